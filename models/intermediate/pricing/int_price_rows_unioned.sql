-- Every price row in force at some time: the imported catalog; the shipped snapshot seed,
-- in force until the first import starts (so usage rated with it keeps its price); and the
-- negotiated/self-hosted overrides, which apply on both sides of a context threshold.
with imported as (
    select * from {{ ref('stg_meterhouse__price_book') }}
),

snapshot as (
    select * from {{ ref('price_book_snapshot') }}
),

overrides as (
    select * from {{ ref('price_overrides') }}
),

first_import as (
    select min(effective_from) as first_imported_at from imported
),

list_prices as (
    select
        model_id, service_tier, min_context_tokens, token_class,
        cast(usd_per_1m_tokens as decimal(38, 12)) as usd_per_1m_tokens,
        effective_from, effective_to, 'list' as price_source
    from imported
    union all
    select
        snapshot.model_id, snapshot.service_tier, cast(snapshot.min_context_tokens as bigint),
        snapshot.token_class, cast(snapshot.usd_per_1m_tokens as decimal(38, 12)),
        cast(snapshot.effective_from as timestamp), first_import.first_imported_at,
        'list_snapshot'
    from snapshot
    cross join first_import
    where first_import.first_imported_at is null
        or cast(snapshot.effective_from as timestamp) < first_import.first_imported_at
),

context_tiers as (
    select distinct model_id, min_context_tokens from list_prices
    union
    select distinct model_id, cast(0 as bigint) from overrides
),

override_prices as (
    select
        overrides.model_id, overrides.service_tier, context_tiers.min_context_tokens,
        overrides.token_class,
        cast(overrides.usd_per_1m_tokens as decimal(38, 12)) as usd_per_1m_tokens,
        cast(overrides.effective_from as timestamp) as effective_from,
        cast(overrides.effective_to as timestamp) as effective_to,
        'override' as price_source
    from overrides
    inner join context_tiers on context_tiers.model_id = overrides.model_id
),

final as (
    select * from list_prices
    union all
    select * from override_prices
)

select * from final
