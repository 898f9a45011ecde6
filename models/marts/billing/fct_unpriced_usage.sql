-- grain: one row per tenant_id, model_name, usage_date
-- Usage that found no price: a model name that resolves to nothing, or a model with no input
-- or output price in force at the event's time. Never billed at $0; invoicing refuses it.
-- A gateway's cache hit needs no vendor price (it costs 0 on purpose): it is unpriced only
-- where its tenant's contract bills cache hits, as its sell price needs the list price.
with priced_daily as (
    select * from {{ ref('int_usage_priced_daily') }}
),

contracts as (
    select * from {{ ref('int_tenant_contracts_monthly') }}
),

final as (
    select
        priced_daily.tenant_id,
        priced_daily.model_name,
        priced_daily.usage_date,
        priced_daily.model_id,
        case when priced_daily.model_id is null then 'model_not_resolved'
            else 'no_price_in_force' end as unpriced_reason,
        cast(sum(priced_daily.request_count) as bigint) as request_count,
        cast(sum(priced_daily.input_tokens) as bigint) as input_tokens,
        cast(sum(priced_daily.output_tokens) as bigint) as output_tokens
    from priced_daily
    left join contracts
        on contracts.tenant_id = priced_daily.tenant_id
        and contracts.invoice_month
            = cast({{ dbt.date_trunc('month', 'priced_daily.usage_date') }} as date)
    where not priced_daily.is_priced
        and (not priced_daily.is_served_from_cache or contracts.bill_gateway_cache_hits)
    group by priced_daily.tenant_id, priced_daily.model_name, priced_daily.usage_date,
        priced_daily.model_id
)

select * from final
