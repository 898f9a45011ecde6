{{ config(materialized='view') }}  -- written by `meterhouse forecast`, read here as it stands
-- grain: one row per series_type, series_key, token_direction, trained_through_date and
-- forecast_date
-- Daily token forecasts with 80% and 95% prediction intervals, per tenant (total, input,
-- output) and per model (total), from `meterhouse forecast` (docs/forecasting.md): the CLI
-- fits them after the build and writes app.usage_forecasts; this view is their contract.
select * from {{ ref('stg_app__usage_forecasts') }}
