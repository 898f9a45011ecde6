-- The loaded events the marts see: every row of raw.usage_events except those held out after
-- the fact (`meterhouse quarantine`, an open hold in raw.event_holds). A held event stays in the
-- raw table, unchanged, so a release brings it back exactly and a re-send of it is still a
-- duplicate; fct_file_loads accounts for it (loaded = in the marts + held).
with source as (
    select * from {{ source('meterhouse', 'usage_events') }}
),

held as (
    select distinct request_id
    from {{ ref('stg_meterhouse__event_holds') }}
    where is_open
),

not_held as (
    select source.*
    from source
    left join held on held.request_id = source.request_id
    where held.request_id is null
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
    from not_held
)

select * from final
