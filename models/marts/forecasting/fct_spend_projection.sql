-- A view on DuckDB, computed when read: always from the latest forecast. A table on Spark,
-- where planning this view anew for every read and test costs a minute; the nightly job
-- rebuilds it there after storing the forecasts (docs/scale-out.md).
{{ config(materialized='table' if target.type == 'spark' else 'view') }}
-- grain: one row per tenant_id (the month after the latest forecast's last day of history)
-- What each tenant's invoice will come to at the end of the month, from the month so far
-- plus the latest forecast, rated like an invoice (docs/forecasting.md):
--   1. the tenant's usage lines of the month so far (or of its latest month with usage, when
--      the month has none yet) are scaled, per token direction, to the month's projected
--      tokens: the month so far plus the forecast of the days left (its 80% bounds for the low
--      and high scenarios). Each line keeps its sell price: the rate card, FX and prices in force.
--   2. the contract's monthly terms apply through the same macro as invoices
--      (monthly_adjustments), then the commitment floor, then what prepaid credit is left.
--   3. each amount is rounded once, at the end, to the currency's minor unit.
-- The days on which credits run out and the commitment is reached follow the month's days,
-- actual then forecast, each spending at the month's average price per token of its direction
-- (a day before the forecast's history ended means it already happened).
with forecasts as (
    select * from {{ ref('fct_usage_forecast') }}
    where series_type = 'tenant' and token_direction in ('input', 'output')
),

latest as (
    select series_key as tenant_id, max(trained_through_date) as through_date
    from forecasts
    group by series_key
),

horizon as (
    select
        tenant_id,
        through_date,
        cast({{ dbt.date_trunc('month', dbt.dateadd('day', 1, 'through_date')) }} as date) as projection_month
    from latest
),

-- the latest forecast's days left in the projection month
month_forecasts as (
    select horizon.tenant_id, forecasts.forecast_date, forecasts.token_direction,
        forecasts.predicted_tokens, forecasts.lower_80_tokens, forecasts.upper_80_tokens
    from horizon
    inner join forecasts
        on forecasts.series_key = horizon.tenant_id
        and forecasts.trained_through_date = horizon.through_date
        and forecasts.forecast_date < {{ dbt.dateadd('month', 1, 'horizon.projection_month') }}
),

remaining as (
    select
        tenant_id,
        token_direction,
        sum(predicted_tokens) as expected_tokens,
        sum(lower_80_tokens) as low_tokens,
        sum(upper_80_tokens) as high_tokens
    from month_forecasts
    group by tenant_id, token_direction
),

usage_lines as (
    select
        *,
        case when token_class in ('input', 'cache_read', 'cache_write') then 'input' else 'output' end
            as token_direction
    from {{ ref('int_invoice_usage_lines') }}
),

base_months as (
    select horizon.tenant_id, horizon.projection_month, max(usage_lines.invoice_month) as base_month
    from horizon
    inner join usage_lines
        on usage_lines.tenant_id = horizon.tenant_id
        and usage_lines.invoice_month <= horizon.projection_month
    group by horizon.tenant_id, horizon.projection_month
),

base_lines as (
    select usage_lines.*, base_months.projection_month
    from usage_lines
    inner join base_months
        on base_months.tenant_id = usage_lines.tenant_id
        and base_months.base_month = usage_lines.invoice_month
),

base_directions as (
    select
        tenant_id,
        token_direction,
        max(case when invoice_month = projection_month then 1 else 0 end) as is_this_month,
        sum(quantity_tokens) as base_tokens,
        sum(unrounded_amount) as base_amount
    from base_lines
    group by tenant_id, token_direction
),

scenarios as (
    select 'expected' as scenario
    union all select 'low'
    union all select 'high'
),

-- projected tokens / base tokens, per tenant, direction and scenario
factors as (
    select
        base_directions.tenant_id,
        base_directions.token_direction,
        scenarios.scenario,
        (base_directions.is_this_month * base_directions.base_tokens
            + coalesce(case scenarios.scenario
                when 'low' then remaining.low_tokens
                when 'high' then remaining.high_tokens
                else remaining.expected_tokens end, 0))
            / cast(base_directions.base_tokens as double) as factor
    from base_directions
    cross join scenarios
    left join remaining
        on remaining.tenant_id = base_directions.tenant_id
        and remaining.token_direction = base_directions.token_direction
    where base_directions.base_tokens > 0
),

-- the macro keys on tenant_id: give each scenario its own key, mapped back below
keys as (
    select distinct tenant_id, scenario, tenant_id || '/' || scenario as scenario_key
    from factors
),

projected_lines as (
    select
        keys.scenario_key as tenant_id,
        base_lines.projection_month as invoice_month,
        base_lines.currency,
        cast(round(base_lines.quantity_tokens * factors.factor) as bigint) as quantity_tokens,
        {{ amount_for_tokens('round(base_lines.quantity_tokens * factors.factor)', 'base_lines.unit_price_per_1m_tokens') }}
            as unrounded_amount
    from base_lines
    inner join factors
        on factors.tenant_id = base_lines.tenant_id
        and factors.token_direction = base_lines.token_direction
    inner join keys on keys.tenant_id = factors.tenant_id and keys.scenario = factors.scenario
),

-- the contract of the projected month, else of the latest month before it
contract_months as (
    select horizon.tenant_id, horizon.projection_month, max(contracts.invoice_month) as invoice_month
    from horizon
    inner join {{ ref('int_tenant_contracts_monthly') }} as contracts
        on contracts.tenant_id = horizon.tenant_id
        and contracts.invoice_month <= horizon.projection_month
    group by horizon.tenant_id, horizon.projection_month
),

projected_contracts as (
    select contracts.* except (tenant_id, invoice_month), keys.scenario_key as tenant_id,
        contract_months.projection_month as invoice_month
    from keys
    inner join contract_months on contract_months.tenant_id = keys.tenant_id
    inner join {{ ref('int_tenant_contracts_monthly') }} as contracts
        on contracts.tenant_id = contract_months.tenant_id
        and contracts.invoice_month = contract_months.invoice_month
),

{{ monthly_adjustments('projected_lines', 'projected_contracts') }},

usage_sums as (
    select tenant_id as scenario_key, sum(unrounded_amount) as usage_amount
    from projected_lines
    group by tenant_id
),

adjustment_sums as (
    select tenant_id as scenario_key, sum(unrounded_amount) as adjustments_amount
    from adj_final
    group by tenant_id
),

scenario_totals as (
    select
        keys.tenant_id,
        keys.scenario,
        max(projected_contracts.currency) as currency,
        max(projected_contracts.monthly_commitment_amount) as commitment,
        max(usage_sums.usage_amount) as usage_amount,
        coalesce(max(adjustment_sums.adjustments_amount), 0) as adjustments_amount
    from keys
    inner join projected_contracts on projected_contracts.tenant_id = keys.scenario_key
    left join usage_sums on usage_sums.scenario_key = keys.scenario_key
    left join adjustment_sums on adjustment_sums.scenario_key = keys.scenario_key
    group by keys.tenant_id, keys.scenario, keys.scenario_key
),

-- what each grant had paid before the projected month
drawn_before as (
    select drawn.grant_id, sum(drawn.drawn_amount) as drawn_amount
    from horizon
    inner join {{ ref('int_credit_drawdowns') }} as drawn
        on drawn.tenant_id = horizon.tenant_id
        and drawn.invoice_month < horizon.projection_month
    group by drawn.grant_id
),

credits as (
    select
        horizon.tenant_id,
        sum(grants.amount - coalesce(drawn_before.drawn_amount, 0)) as credit_left
    from horizon
    inner join {{ ref('credit_grants') }} as grants
        on grants.tenant_id = horizon.tenant_id
        and {{ dbt.date_trunc('month', 'grants.granted_on') }} <= horizon.projection_month
        and horizon.projection_month < {{ dbt.date_trunc('month', 'grants.expires_on') }}
    left join drawn_before on drawn_before.grant_id = grants.grant_id
    group by horizon.tenant_id
),

amounts as (
    select
        scenario_totals.*,
        coalesce(credits.credit_left, 0) as credit_left,
        greatest(usage_amount + adjustments_amount, commitment) as before_credits
    from scenario_totals
    left join credits using (tenant_id)
),

projected as (
    select
        *,
        before_credits - least(credit_left, greatest(before_credits, 0)) as projected_total
    from amounts
),

-- the expected path day by day through the month: each day's tokens (actual up to the
-- forecast's last day of history, forecast after) at the month's average price per token of
-- their direction, summed, and scaled by the terms (total before credits / usage)
actual_days as (
    select horizon.tenant_id, actual.usage_date, actual.input_tokens, actual.output_tokens
    from horizon
    inner join {{ ref('fct_usage_series_daily') }} as actual
        on actual.series_type = 'tenant' and actual.series_key = horizon.tenant_id
        and actual.usage_date >= horizon.projection_month and actual.usage_date <= horizon.through_date
),

daily_tokens as (
    select tenant_id, usage_date as day, 'input' as token_direction, input_tokens as tokens
    from actual_days
    union all
    select tenant_id, usage_date, 'output', output_tokens from actual_days
    union all
    select tenant_id, forecast_date, token_direction, predicted_tokens from month_forecasts
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
        and base_directions.base_tokens > 0
    group by daily_tokens.tenant_id, daily_tokens.day
),

paths as (
    select
        daily_spend.tenant_id,
        daily_spend.day,
        sum(daily_spend.day_amount) over (
            partition by daily_spend.tenant_id order by daily_spend.day
            rows between unbounded preceding and current row
        ) * (expected.usage_amount + expected.adjustments_amount) / nullif(expected.usage_amount, 0)
            as spent_to_date
    from daily_spend
    inner join projected as expected
        on expected.tenant_id = daily_spend.tenant_id and expected.scenario = 'expected'
),

crossings as (
    select
        projected.tenant_id,
        min(case when paths.spent_to_date >= projected.credit_left and projected.credit_left > 0
            then paths.day end) as credits_used_up_on,
        min(case when paths.spent_to_date >= projected.commitment and projected.commitment > 0
            then paths.day end) as commitment_reached_on
    from projected
    inner join paths on paths.tenant_id = projected.tenant_id
    where projected.scenario = 'expected'
    group by projected.tenant_id
),

final as (
    select
        horizon.tenant_id,
        horizon.projection_month,
        horizon.through_date as trained_through_date,
        expected.currency,
        {{ round_money('expected.usage_amount', 'currencies.minor_unit') }} as projected_usage_amount,
        {{ round_money('expected.projected_total', 'currencies.minor_unit') }} as projected_total,
        {{ round_money('low.projected_total', 'currencies.minor_unit') }} as projected_total_low_80,
        {{ round_money('high.projected_total', 'currencies.minor_unit') }} as projected_total_high_80,
        cast(expected.commitment as decimal(38, 2)) as monthly_commitment_amount,
        crossings.commitment_reached_on,
        {{ round_money('expected.credit_left', 'currencies.minor_unit') }} as credit_left_at_month_start,
        crossings.credits_used_up_on
    from horizon
    inner join projected as expected on expected.tenant_id = horizon.tenant_id and expected.scenario = 'expected'
    inner join projected as low on low.tenant_id = horizon.tenant_id and low.scenario = 'low'
    inner join projected as high on high.tenant_id = horizon.tenant_id and high.scenario = 'high'
    left join crossings on crossings.tenant_id = horizon.tenant_id
    left join {{ ref('currencies') }} as currencies on currencies.currency = expected.currency
)

select * from final
