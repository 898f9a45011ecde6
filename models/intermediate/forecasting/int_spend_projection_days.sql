{{ config(materialized='table' if target.type == 'spark' else 'view') }}
-- grain: one row per tenant_id and day of the projected month with tokens (actual, then forecast)
-- The expected path of each tenant's spend through the projected month (docs/forecasting.md):
-- each day's tokens (actual up to the forecast's last day of history, the expected forecast
-- after) at the month's average price per token of their direction in the base lines, summed
-- day by day and scaled by the terms (expected total before credits / usage).
with base_lines as (
    select * from {{ ref('int_spend_projection_lines') }}
    where scenario = 'expected'
),

months as (
    select distinct tenant_id, invoice_month as projection_month, trained_through_date
    from base_lines
),

base_directions as (
    select
        tenant_id,
        token_direction,
        sum(base_quantity_tokens) as base_tokens,
        sum(base_unrounded_amount) as base_amount
    from base_lines
    group by tenant_id, token_direction
),

expected as (
    select * from {{ ref('int_spend_projection_scenarios') }}
    where scenario = 'expected'
),

actual_days as (
    select months.tenant_id, actual.usage_date, actual.input_tokens, actual.output_tokens
    from months
    inner join {{ ref('fct_usage_series_daily') }} as actual
        on actual.series_type = 'tenant' and actual.series_key = months.tenant_id
        and actual.usage_date >= months.projection_month
        and actual.usage_date <= months.trained_through_date
),

-- the forecast's days left in the month: those int_spend_projection_lines scaled the lines to
forecast_days as (
    select months.tenant_id, forecasts.forecast_date, forecasts.token_direction,
        forecasts.predicted_tokens
    from months
    inner join {{ ref('fct_usage_forecast') }} as forecasts
        on forecasts.series_type = 'tenant'
        and forecasts.token_direction in ('input', 'output')
        and forecasts.series_key = months.tenant_id
        and forecasts.trained_through_date = months.trained_through_date
        and forecasts.forecast_date < {{ dbt.dateadd('month', 1, 'months.projection_month') }}
),

daily_tokens as (
    select tenant_id, usage_date as day, 'input' as token_direction, input_tokens as tokens
    from actual_days
    union all
    select tenant_id, usage_date, 'output', output_tokens from actual_days
    union all
    select tenant_id, forecast_date, token_direction, predicted_tokens from forecast_days
),

daily_spend as (
    select
        daily_tokens.tenant_id,
        daily_tokens.day,
        -- an estimate, in DOUBLE on both engines (a DECIMAL quotient overflows on Spark, and
        -- so does a DECIMAL(38, 18) product of a big tenant's tokens and amount on either)
        sum(cast(daily_tokens.tokens as double) * cast(base_directions.base_amount as double)
            / base_directions.base_tokens) as day_amount
    from daily_tokens
    inner join base_directions
        on base_directions.tenant_id = daily_tokens.tenant_id
        and base_directions.token_direction = daily_tokens.token_direction
    group by daily_tokens.tenant_id, daily_tokens.day
),

final as (
    select
        daily_spend.tenant_id,
        daily_spend.day as spend_date,
        sum(daily_spend.day_amount) over (
            partition by daily_spend.tenant_id order by daily_spend.day
            rows between unbounded preceding and current row
        ) * (expected.usage_amount + expected.adjustments_amount) / nullif(expected.usage_amount, 0)
            as spent_to_date
    from daily_spend
    inner join expected on expected.tenant_id = daily_spend.tenant_id
)

select * from final
