"""meterhouse: token-usage billing warehouse."""

import warnings

__version__ = "0.1.0"

# With the spark extra installed, Pandera imports PySpark's pandas API, which warns that it does
# not support pandas 3 yet. meterhouse never uses that API (Pandera runs on Polars here).
warnings.filterwarnings(
    "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
)
