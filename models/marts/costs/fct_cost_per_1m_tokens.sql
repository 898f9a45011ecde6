-- grain: one row per model_id, hardware and usage_date
-- What serving a model cost per 1M tokens, on each kind of hardware: a GPU type for the
-- self-hosted fleet (the GPU cost mapping of int_gpu_cost_allocated; idle GPU cost, when
-- reported, is the row of model '(idle)'), or 'api:<provider>' for vendor APIs at list price,
-- or 'gateway_cache' for requests a gateway answered from its own cache (no provider call:
-- cost 0, docs/decisions/0028), so that a provider's cost per 1M counts only what it served.
-- Failed requests are included: their tokens cost as much to serve.
with gpu_allocated as (
    select * from {{ ref('int_gpu_cost_allocated') }}
),

gpu_hours as (
    select * from {{ ref('int_gpu_hour_costs') }}
),

api_usage as (
    select * from {{ ref('int_usage_priced_daily') }}
    where not is_self_hosted
),

utilization as (
    select
        usage_date,
        gpu_type,
        sum(busy_seconds) as busy_seconds,
        sum(powered_seconds) as powered_seconds
    from gpu_hours
    group by usage_date, gpu_type
),

self_hosted as (
    select
        coalesce(model_id, '(idle)') as model_id,
        gpu_type as hardware,
        usage_date,
        sum(case when token_direction = 'input' then tokens else 0 end) as input_tokens,
        sum(case when token_direction = 'output' then tokens else 0 end) as output_tokens,
        sum(case when token_direction = 'input' then cost_usd else 0 end) as input_cost_usd,
        sum(case when token_direction = 'output' then cost_usd else 0 end) as output_cost_usd,
        sum(case when is_idle then cost_usd else 0 end) as idle_cost_usd,
        sum(cost_usd) as cost_usd,
        0 as unpriced_tokens,
        true as is_self_hosted
    from gpu_allocated
    group by coalesce(model_id, '(idle)'), gpu_type, usage_date
),

api_hardware as (
    select
        *,
        case when is_served_from_cache then 'gateway_cache'
            else 'api:' || coalesce(provider, 'unknown') end as hardware,
        is_priced and not is_served_from_cache as has_vendor_cost
    from api_usage
),

api as (
    select
        coalesce(model_id, model_name) as model_id,
        hardware,
        usage_date,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens,
        sum(case when has_vendor_cost then {{ list_cost('input') }} else 0 end) as input_cost_usd,
        sum(case when has_vendor_cost then {{ list_cost('output') }} else 0 end)
            as output_cost_usd,
        0 as idle_cost_usd,
        sum(coalesce(api_cost_usd, 0)) as cost_usd,
        sum(case when is_priced or is_served_from_cache then 0
            else input_tokens + output_tokens end) as unpriced_tokens,
        false as is_self_hosted
    from api_hardware
    group by coalesce(model_id, model_name), hardware, usage_date
),

combined as (
    select * from self_hosted
    union all
    select * from api
),

final as (
    select
        combined.model_id,
        combined.hardware,
        combined.usage_date,
        combined.is_self_hosted,
        cast(combined.input_tokens as bigint) as input_tokens,
        cast(combined.output_tokens as bigint) as output_tokens,
        cast(combined.unpriced_tokens as bigint) as unpriced_tokens,
        cast(combined.input_cost_usd as decimal(38, 12)) as input_cost_usd,
        cast(combined.output_cost_usd as decimal(38, 12)) as output_cost_usd,
        cast(combined.idle_cost_usd as decimal(38, 12)) as idle_cost_usd,
        cast(combined.cost_usd as decimal(38, 12)) as cost_usd,
        cast(case when combined.input_tokens > 0
            then {{ prorate('combined.input_cost_usd', 1000000, 'combined.input_tokens') }}
        end as decimal(38, 12)) as input_cost_usd_per_1m_tokens,
        cast(case when combined.output_tokens > 0
            then {{ prorate('combined.output_cost_usd', 1000000, 'combined.output_tokens') }}
        end as decimal(38, 12)) as output_cost_usd_per_1m_tokens,
        cast(case when combined.input_tokens + combined.output_tokens > 0
            then {{ prorate(
                'combined.cost_usd', 1000000, 'combined.input_tokens + combined.output_tokens'
            ) }}
        end as decimal(38, 12)) as cost_usd_per_1m_tokens,
        -- busy share of the powered time of the hardware type's whole fleet that day
        cast(case when utilization.powered_seconds > 0
            then round(utilization.busy_seconds / utilization.powered_seconds, 6)
        end as decimal(9, 6)) as gpu_utilization_ratio
    from combined
    left join utilization
        on utilization.usage_date = combined.usage_date
        and utilization.gpu_type = combined.hardware
)

select * from final
