with source as (
    select * from {{ source('meterhouse', 'usage_events') }}
),

final as (
    select
        request_id,
        event_at,
        usage_date,
        tenant_id,
        model as model_name,
        input_tokens,
        output_tokens,
        cache_read_tokens,
        cache_write_tokens,
        reasoning_tokens,
        input_tokens - cache_read_tokens - cache_write_tokens as uncached_input_tokens,
        output_tokens - reasoning_tokens as non_reasoning_output_tokens,
        user_id,
        provider,
        region,
        service_tier,
        status,
        latency_ms,
        first_token_latency_ms,
        gpu_id,
        trace_id,
        file_id
    from source
)

select * from final
