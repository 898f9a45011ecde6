-- grain: one row per series_type, series_key and usage_date with usage
-- The daily token series the forecasts are fitted on: per tenant (total, input, output) and
-- per model (total). Days without usage are absent; the forecaster fills them with 0.
with daily as (
    select * from {{ ref('fct_usage_daily') }}
),

by_tenant as (
    select
        'tenant' as series_type,
        tenant_id as series_key,
        usage_date,
        sum(request_count) as requests,
        sum(input_tokens + output_tokens) as tokens,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens
    from daily
    group by tenant_id, usage_date
),

by_model as (
    select
        'model' as series_type,
        model_id as series_key,
        usage_date,
        sum(request_count) as requests,
        sum(input_tokens + output_tokens) as tokens,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens
    from daily
    group by model_id, usage_date
),

final as (
    select series_type, series_key, usage_date, cast(requests as bigint) as requests,
        cast(tokens as bigint) as tokens, cast(input_tokens as bigint) as input_tokens,
        cast(output_tokens as bigint) as output_tokens
    from by_tenant
    union all
    select series_type, series_key, usage_date, cast(requests as bigint), cast(tokens as bigint),
        cast(input_tokens as bigint), cast(output_tokens as bigint)
    from by_model
)

select * from final
