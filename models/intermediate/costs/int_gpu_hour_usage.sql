{{ config(materialized='view') }}  -- read once, by int_gpu_cost_allocated
-- Tokens served per GPU, clock hour, tenant, resolved model and success: what a GPU-hour's
-- cost is allocated to (int_gpu_cost_allocated). A gateway's cache hit ran on no GPU.
with events as (
    select * from {{ ref('stg_meterhouse__usage_events') }}
    where gpu_id is not null and not is_served_from_cache
),

resolved as (
    select * from {{ ref('int_model_names_resolved') }}
),

final as (
    select
        events.gpu_id,
        cast({{ dbt.date_trunc('hour', 'events.event_at') }} as timestamp) as hour_at,
        events.usage_date,
        events.tenant_id,
        coalesce(resolved.model_id, events.model_name) as model_id,
        events.status = 'success' as is_success,
        count(*) as request_count,
        sum(events.input_tokens) as input_tokens,
        sum(events.output_tokens) as output_tokens
    from events
    left join resolved on resolved.model_name = events.model_name
    group by 1, 2, 3, 4, 5, 6
)

select * from final
