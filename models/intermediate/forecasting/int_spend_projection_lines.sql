{{ config(materialized='table' if target.type == 'spark' else 'view') }}
-- grain: one row per tenant_id, scenario (expected, low, high) and usage line of the base month
-- (model_id, token_class, unit_price_per_1m_tokens)
-- Each tenant's usage lines scaled to the projected month (docs/forecasting.md): the month
-- after its latest forecast's last day of history. The lines of the month so far (or of its
-- latest month with usage, when the month has none yet) are scaled, per token direction, to
-- the month's projected tokens: the month so far plus the forecast of the days left (its 80%
-- bounds for the low and high scenarios). Each line keeps its sell price. Directions without
-- base tokens have nothing to scale and no rows.
{#- the token classes of the input direction, as SQL literals -#}
{%- set input_classes = "'" ~ (token_classes() | selectattr('direction', 'equalto', 'input')
    | map(attribute='name') | join("', '")) ~ "'" %}
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
        cast(
            {{ dbt.date_trunc('month', dbt.dateadd('day', 1, 'through_date')) }} as date
        ) as projection_month
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
        case
            when token_class in ({{ input_classes }}) then 'input'
            else 'output'
        end as token_direction
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
        sum(quantity_tokens) as base_tokens
    from base_lines
    group by tenant_id, token_direction
),

-- a VALUES list, not a union of one-row selects: Spark 4.3 fails to run a plan joining the
-- latter (ClassCastException on UnionExec.children when the task is deserialized)
scenarios as (
    select scenario_names.scenario
    from (values ('expected'), ('low'), ('high')) as scenario_names (scenario)
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

final as (
    select
        base_lines.tenant_id,
        factors.scenario,
        base_lines.projection_month as invoice_month,
        horizon.through_date as trained_through_date,
        base_lines.currency,
        base_lines.model_id,
        base_lines.token_class,
        base_lines.token_direction,
        base_lines.unit_price_per_1m_tokens,
        base_lines.quantity_tokens as base_quantity_tokens,
        base_lines.unrounded_amount as base_unrounded_amount,
        cast(round(base_lines.quantity_tokens * factors.factor) as bigint) as quantity_tokens,
        {{ amount_for_tokens(
            'round(base_lines.quantity_tokens * factors.factor)',
            'base_lines.unit_price_per_1m_tokens'
        ) }} as unrounded_amount
    from base_lines
    inner join factors
        on factors.tenant_id = base_lines.tenant_id
        and factors.token_direction = base_lines.token_direction
    inner join horizon on horizon.tenant_id = base_lines.tenant_id
)

select * from final
