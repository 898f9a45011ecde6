"""The vectorized Polars core: pure functions over frames and expressions (no DuckDB, no CLI)."""
