{{ config(materialized='view') }}
-- grain: one row per tenant, raw model name, resolved model, day, provider, region,
-- self-hosted or not, service tier, success, priced-or-not and per-class list prices
-- The rated usage (int_usage_days_rated, incremental, docs/decisions/0004) without its day
-- markers: what fct_usage_daily, fct_unpriced_usage, the invoice lines and the cost marts read.
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
        is_priced,
        {%- for c in price_classes() %}
        {{ c.price_column }},
        {%- endfor %}
        request_count,
        input_tokens,
        output_tokens,
        {%- for c in token_classes() %}
        {{ c.quantity_column }},
        {%- endfor %}
        api_cost_usd,
        last_file_id
    from rated
)

select * from final
