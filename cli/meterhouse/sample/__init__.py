"""Sample usage exports: realistic, deterministic and dirty on purpose.

The warehouse is built and tested before any customer export exists, so this package writes
Parquet files shaped like a gateway's per-request token-usage export, with a summary of exactly
how many clean events and how much dirt of each kind they hold.
"""

from meterhouse.sample.generator import SampleSummary, generate_sample

__all__ = ["SampleSummary", "generate_sample"]
