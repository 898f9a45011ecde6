-- Every price row in force at some time, from the imported catalog (or, while none was
-- imported, the shipped snapshot seed) and the negotiated/self-hosted overrides.
with imported as (
    select * from {{ ref('stg_meterhouse__price_book') }}
),

snapshot as (
    select * from {{ ref('price_book_snapshot') }}
),

overrides as (
    select * from {{ ref('price_overrides') }}
),

list_prices as (
    select
        model_id, service_tier, min_context_tokens, token_class,
        cast(usd_per_1m_tokens as decimal(38, 12)) as usd_per_1m_tokens,
        effective_from, effective_to, 'list' as price_source
    from imported
    union all
    select
        model_id, service_tier, cast(min_context_tokens as bigint), token_class,
        cast(usd_per_1m_tokens as decimal(38, 12)),
        cast(effective_from as timestamp), cast(null as timestamp), 'list_snapshot'
    from snapshot
    where not exists (select 1 from imported)
),

override_prices as (
    select
        model_id, service_tier, cast(0 as bigint) as min_context_tokens, token_class,
        cast(usd_per_1m_tokens as decimal(38, 12)) as usd_per_1m_tokens,
        cast(effective_from as timestamp) as effective_from,
        cast(effective_to as timestamp) as effective_to,
        'override' as price_source
    from overrides
),

final as (
    select * from list_prices
    union all
    select * from override_prices
)

select * from final
