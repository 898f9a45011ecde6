-- grain: one row per tenant_id, model_id, usage_date, service_tier
-- Every loaded event is here, priced or not: an unresolved model keeps its raw name as
-- model_id with is_priced false and api_cost_usd null (see fct_unpriced_usage).
with priced as (
    select * from {{ ref('int_usage_events_priced') }}
),

final as (
    select
        tenant_id,
        coalesce(model_id, model_name) as model_id,
        usage_date,
        service_tier,
        is_priced,
        count(*) as request_count,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens,
        sum(uncached_input_tokens) as uncached_input_tokens,
        sum(cache_read_tokens) as cache_read_tokens,
        sum(cache_write_tokens) as cache_write_tokens,
        sum(reasoning_tokens) as reasoning_tokens,
        sum(non_reasoning_output_tokens) as non_reasoning_output_tokens,
        cast(sum(api_cost_usd) as decimal(38, 18)) as api_cost_usd
    from priced
    group by tenant_id, coalesce(model_id, model_name), usage_date, service_tier, is_priced
)

select * from final
