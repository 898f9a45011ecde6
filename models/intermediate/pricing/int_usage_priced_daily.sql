{{ config(materialized='view') }}
-- grain: one row per tenant, raw model name, resolved model, day, provider, region,
-- self-hosted or not, service tier, success, served from a gateway's cache or not,
-- priced-or-not and per-class list prices
-- The rated usage (int_usage_days_rated, incremental, docs/decisions/0004) without its day
-- markers: what fct_usage_daily, fct_unpriced_usage, the invoice lines and the cost marts read.
{#- Days rated before a token class existed (kept by an issued month, docs/decisions/0025)
    have none of its columns: before the 1-hour cache writes, all writes were 5-minute ones,
    and a class's missing price is its fallbacks' (as rating gives it; already so on the days
    rated since), so that no cost of such a day is null. -#}
{%- set rated_before = {'cache_write_5m_tokens': 'cache_write_tokens',
    'cache_write_1h_tokens': '0'} %}
{#- Days rated before the gateway's cache hits were loaded hold none (is_served_from_cache is
    null there): false. #}
with rated as (
    select * from {{ ref('int_usage_days_rated') }}
    where not is_day_marker
),

final as (
    select
        tenant_id,
        model_name,
        model_id,
        usage_date,
        provider,
        region,
        is_self_hosted,
        service_tier,
        is_success,
        coalesce(is_served_from_cache, false) as is_served_from_cache,
        is_priced,
        {%- for c in price_classes() %}
        {{ price_with_fallbacks('rated', c) }} as {{ c.price_column }},
        {%- endfor %}
        request_count,
        input_tokens,
        output_tokens,
        cache_write_tokens,
        {%- for c in token_classes() %}
        {%- if c.quantity_column in rated_before %}
        coalesce({{ c.quantity_column }}, {{ rated_before[c.quantity_column] }})
            as {{ c.quantity_column }},
        {%- else %}
        {{ c.quantity_column }},
        {%- endif %}
        {%- endfor %}
        api_cost_usd,
        last_file_id
    from rated
)

select * from final
