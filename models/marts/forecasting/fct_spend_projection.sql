-- A view on DuckDB, computed when read: always from the latest forecast. A table on Spark,
-- where planning this view anew for every read and test costs a minute; the nightly job
-- rebuilds it there after storing the forecasts (docs/scale-out.md). Its intermediate models
-- are the same: views on DuckDB, tables on Spark (_int_forecasting__models.yml).
{{ config(materialized='table' if target.type == 'spark' else 'view') }}
-- grain: one row per tenant_id (the month after the latest forecast's last day of history)
-- What each tenant's invoice will come to at the end of the month, from the month so far
-- plus the latest forecast, rated like an invoice (docs/forecasting.md):
--   1. int_spend_projection_lines: the usage lines scaled to the month's projected tokens,
--      per scenario (expected, and the forecast's 80% bounds for low and high);
--   2. int_spend_projection_scenarios: the contract's monthly terms, the commitment floor and
--      the prepaid credit left, unrounded;
--   3. int_spend_projection_days: the expected path of spend through the month;
--   4. here: the first days that path reaches the credit left and the commitment, and each
--      amount rounded once, to the currency's minor unit.
with scenarios as (
    select * from {{ ref('int_spend_projection_scenarios') }}
),

expected as (
    select * from scenarios where scenario = 'expected'
),

paths as (
    select * from {{ ref('int_spend_projection_days') }}
),

crossings as (
    select
        expected.tenant_id,
        min(case when paths.spent_to_date >= expected.credit_left and expected.credit_left > 0
            then paths.spend_date end) as credits_used_up_on,
        min(case when paths.spent_to_date >= expected.monthly_commitment_amount
                and expected.monthly_commitment_amount > 0
            then paths.spend_date end) as commitment_reached_on
    from expected
    inner join paths on paths.tenant_id = expected.tenant_id
    group by expected.tenant_id
),

final as (
    select
        expected.tenant_id,
        expected.projection_month,
        expected.trained_through_date,
        expected.currency,
        {{ round_money('expected.usage_amount', 'currencies.minor_unit') }}
            as projected_usage_amount,
        {{ round_money('expected.projected_total', 'currencies.minor_unit') }}
            as projected_total,
        {{ round_money('low.projected_total', 'currencies.minor_unit') }}
            as projected_total_low_80,
        {{ round_money('high.projected_total', 'currencies.minor_unit') }}
            as projected_total_high_80,
        cast(expected.monthly_commitment_amount as decimal(38, 2)) as monthly_commitment_amount,
        crossings.commitment_reached_on,
        {{ round_money('expected.credit_left', 'currencies.minor_unit') }}
            as credit_left_at_month_start,
        crossings.credits_used_up_on
    from expected
    inner join scenarios as low on low.tenant_id = expected.tenant_id and low.scenario = 'low'
    inner join scenarios as high on high.tenant_id = expected.tenant_id and high.scenario = 'high'
    left join crossings on crossings.tenant_id = expected.tenant_id
    left join {{ ref('currencies') }} as currencies on currencies.currency = expected.currency
)

select * from final
