-- Every stored event (raw.usage_events), held or not, with the token classes derived and
-- is_held: an open hold (`meterhouse quarantine`, raw.event_holds) keeps it out of the marts.
-- The rating and the marts read stg_meterhouse__usage_events (this without the held events);
-- pricing reads this, so an issued invoice can still trace the events it billed that were
-- held after it was issued (fct_invoice_line_requests). A held event stays in the raw table
-- unchanged, so a release brings it back exactly and a re-send of it is still a duplicate.
-- event_provider is the event's own provider in the catalog's spelling (seed provider_names:
-- 'aws.bedrock' -> 'bedrock'; a spelling not listed is kept, lower case); null when the
-- export has none. int_usage_events_priced derives `provider` from it and the model's catalog.
-- is_served_from_cache: the contract's served_from_cache (docs/decisions/0028).
with source as (
    select * from {{ source('meterhouse', 'usage_events') }}
),

provider_names as (
    select * from {{ ref('provider_names') }}
),

held as (
    select distinct request_id
    from {{ ref('stg_meterhouse__event_holds') }}
    where is_open
),

final as (
    select
        source.request_id,
        source.event_at,
        source.usage_date,
        source.tenant_id,
        source.model as model_name,
        source.input_tokens,
        source.output_tokens,
        source.cache_read_tokens,
        source.cache_write_tokens,
        source.cache_write_1h_tokens,
        source.reasoning_tokens,
        source.input_tokens - source.cache_read_tokens - source.cache_write_tokens
            as uncached_input_tokens,
        -- the 1-hour writes are a part of the cache writes (rule
        -- cache_write_1h_exceeds_cache_write); the rest are the 5-minute ones
        source.cache_write_tokens - source.cache_write_1h_tokens as cache_write_5m_tokens,
        source.output_tokens - source.reasoning_tokens as non_reasoning_output_tokens,
        source.user_id,
        case
            when provider_names.spelling is not null then provider_names.provider
            else nullif(lower(trim(source.provider)), '')
        end as event_provider,
        source.region,
        source.service_tier,
        source.status,
        source.latency_ms,
        source.first_token_latency_ms,
        source.gpu_id,
        source.trace_id,
        -- a gateway's cache hit (no provider call): vendor cost 0, billed by contract
        source.served_from_cache as is_served_from_cache,
        source.file_id,
        held.request_id is not null as is_held
    from source
    left join held on held.request_id = source.request_id
    left join provider_names on provider_names.spelling = lower(trim(source.provider))
)

select * from final
