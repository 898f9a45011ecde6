with source as (
    select * from {{ source('meterhouse', 'price_book') }}
),

final as (
    select
        model_id,
        provider,
        service_tier,
        min_context_tokens,
        token_class,
        usd_per_1m_tokens,
        effective_from,
        effective_to,
        source as price_source_detail
    from source
)

select * from final
