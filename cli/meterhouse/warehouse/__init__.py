"""The DuckDB warehouse: connection, raw tables, the loader and the dbt runner."""
