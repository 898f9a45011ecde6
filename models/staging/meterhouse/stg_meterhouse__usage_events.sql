-- The loaded events the marts see: every stored event except those held out after the fact
-- (`meterhouse quarantine`: an open hold in raw.event_holds; stg_meterhouse__usage_events_stored
-- has them all). fct_file_loads accounts for the difference: loaded = in the marts + held.
with stored as (
    select * from {{ ref('stg_meterhouse__usage_events_stored') }}
    where not is_held
),

final as (
    select
        request_id,
        event_at,
        usage_date,
        tenant_id,
        model_name,
        input_tokens,
        output_tokens,
        cache_read_tokens,
        cache_write_tokens,
        cache_write_1h_tokens,
        reasoning_tokens,
        uncached_input_tokens,
        cache_write_5m_tokens,
        non_reasoning_output_tokens,
        user_id,
        event_provider,
        region,
        service_tier,
        status,
        latency_ms,
        first_token_latency_ms,
        gpu_id,
        trace_id,
        is_served_from_cache,
        file_id
    from stored
)

select * from final
