-- grain: one row per tenant_id, model_name, usage_date
-- Usage that found no price: a model name that resolves to nothing, or a model with no input
-- or output price in force at the event's time. Never billed at $0; invoicing refuses it.
with priced_daily as (
    select * from {{ ref('int_usage_priced_daily') }}
),

final as (
    select
        tenant_id,
        model_name,
        usage_date,
        model_id,
        case when model_id is null then 'model_not_resolved' else 'no_price_in_force' end
            as unpriced_reason,
        cast(sum(request_count) as bigint) as request_count,
        cast(sum(input_tokens) as bigint) as input_tokens,
        cast(sum(output_tokens) as bigint) as output_tokens
    from priced_daily
    where not is_priced
    group by tenant_id, model_name, usage_date, model_id
)

select * from final
