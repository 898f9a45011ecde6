-- grain: one row per usage_date, provider, model_id, service_tier, token_class, usd_per_1m_tokens
-- API usage (not self-hosted) as a vendor bills it, for `meterhouse reconcile`: the token
-- classes a FOCUS bill carries (those with a vendor_quantity_column in the vocabulary),
-- reasoning counted in output at the output price (as vendors bill it), at the list price we
-- applied. Unpriced usage stays, with a null price and
-- cost, so it shows as metered; an unresolved model keeps its raw name as model_id. A request
-- a gateway served from its own cache never reached a vendor: not here (docs/decisions/0028).
with priced_daily as (
    select * from {{ ref('int_usage_priced_daily') }}
    where not is_self_hosted and not is_served_from_cache
),

by_class as (
    {%- for c in token_classes() | selectattr('vendor_quantity_column') %}
    select usage_date, provider, coalesce(model_id, model_name) as model_id, service_tier,
           '{{ c.name }}' as token_class, {{ c.price_column }} as usd_per_1m_tokens,
           {{ c.vendor_quantity_column }} as tokens, request_count
    from priced_daily
    {{ "union all" if not loop.last }}
    {%- endfor %}
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
