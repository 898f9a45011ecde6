-- grain: one row per usage_date, provider, model_id, service_tier, token_class and usd_per_1m_tokens
-- API usage (not self-hosted) as a vendor bills it, for `meterhouse reconcile`: the four
-- token classes a FOCUS bill carries, reasoning counted in output at the output price (as
-- vendors bill it), at the list price we applied. Unpriced usage stays, with a null price and
-- cost, so it shows as metered; an unresolved model keeps its raw name as model_id.
with priced_daily as (
    select * from {{ ref('int_usage_priced_daily') }}
    where not is_self_hosted
),

by_class as (
    select usage_date, provider, coalesce(model_id, model_name) as model_id, service_tier,
           'input' as token_class, input_usd_per_1m_tokens as usd_per_1m_tokens,
           uncached_input_tokens as tokens, request_count
    from priced_daily
    union all
    select usage_date, provider, coalesce(model_id, model_name), service_tier,
           'cache_read', cache_read_usd_per_1m_tokens, cache_read_tokens, request_count
    from priced_daily
    union all
    select usage_date, provider, coalesce(model_id, model_name), service_tier,
           'cache_write', cache_write_usd_per_1m_tokens, cache_write_tokens, request_count
    from priced_daily
    union all
    select usage_date, provider, coalesce(model_id, model_name), service_tier,
           'output', output_usd_per_1m_tokens, output_tokens, request_count
    from priced_daily
),

final as (
    select
        usage_date,
        coalesce(provider, 'unknown') as provider,
        model_id,
        service_tier,
        token_class,
        cast(usd_per_1m_tokens as decimal(38, 12)) as usd_per_1m_tokens,
        cast(sum(tokens) as bigint) as tokens,
        cast(sum(request_count) as bigint) as request_count,
        cast(sum({{ amount_for_tokens('tokens', 'usd_per_1m_tokens') }}) as decimal(38, 18))
            as list_cost_usd
    from by_class
    where tokens > 0
    group by usage_date, coalesce(provider, 'unknown'), model_id, service_tier, token_class,
        usd_per_1m_tokens
)

select * from final
