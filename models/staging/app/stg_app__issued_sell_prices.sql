with source as (
    select * from {{ source('app', 'issued_sell_prices') }}
),

final as (
    select
        invoice_id,
        model_id,
        is_success,
        is_served_from_cache,
        token_class,
        list_usd_per_1m_tokens,
        is_billable,
        unit_price_per_1m_tokens
    from source
)

select * from final
