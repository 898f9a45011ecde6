-- grain: one row per price-book model_id with a provider in the catalog
-- The provider that serves each price-book model, as the catalog lists it (litellm_provider)
-- in the catalog's normalised spelling (seed provider_names: 'bedrock_converse' -> 'bedrock',
-- 'vertex_ai-anthropic_models' -> 'vertex_ai'; a spelling not listed is kept, lower case).
-- An event that carries no provider of its own is served by its model's (docs/pricing.md).
-- The latest listing wins when a model was imported more than once.
with listed as (
    select model_id, provider, effective_from
    from {{ ref('stg_meterhouse__price_book') }}
    union all
    select model_id, provider, cast(effective_from as timestamp)
    from {{ ref('price_book_snapshot') }}
),

provider_names as (
    select * from {{ ref('provider_names') }}
),

normalised as (
    select
        listed.model_id,
        case
            when provider_names.spelling is not null then provider_names.provider
            else nullif(lower(trim(listed.provider)), '')
        end as provider,
        listed.effective_from
    from listed
    left join provider_names on provider_names.spelling = lower(trim(listed.provider))
),

ranked as (
    select
        model_id,
        provider,
        row_number() over (
            partition by model_id order by effective_from desc, provider
        ) as recency
    from normalised
    where provider is not null
),

final as (
    select model_id, provider
    from ranked
    where recency = 1
)

select * from final
