-- grain: one row per tenant_id, model_id, usage_date, service_tier, is_served_from_cache and
-- is_priced
-- Every loaded event is here, priced or not: an unresolved model keeps its raw name as
-- model_id with is_priced false and api_cost_usd null (see fct_unpriced_usage). Requests a
-- gateway answered from its own cache are rows of their own (is_served_from_cache), their
-- tokens shown and their api_cost_usd 0 (docs/decisions/0028).
-- rated_through_change_id: the last change to loaded data (raw.changed_days) the build has
-- rated, the same on every row; a later change means the marts are behind the warehouse.
with priced_daily as (
    select * from {{ ref('int_usage_priced_daily') }}
),

watermark as (
    select cast(coalesce(max(rated_through_change_id), 0) as bigint) as rated_through_change_id
    from {{ ref('int_usage_days_rated') }}
),

usage_groups as (
    select
        tenant_id,
        coalesce(model_id, model_name) as model_id,
        usage_date,
        service_tier,
        is_served_from_cache,
        is_priced,
        cast(sum(request_count) as bigint) as request_count,
        cast(sum(input_tokens) as bigint) as input_tokens,
        cast(sum(output_tokens) as bigint) as output_tokens,
        cast(sum(cache_write_tokens) as bigint) as cache_write_tokens,
        {%- for c in token_classes() %}
        cast(sum({{ c.quantity_column }}) as bigint) as {{ c.quantity_column }},
        {%- endfor %}
        cast(sum(api_cost_usd) as decimal(38, 18)) as api_cost_usd,
        cast(max(last_file_id) as bigint) as last_file_id
    from priced_daily
    group by tenant_id, coalesce(model_id, model_name), usage_date, service_tier,
        is_served_from_cache, is_priced
),

final as (
    select usage_groups.*, watermark.rated_through_change_id
    from usage_groups
    cross join watermark
)

select * from final
