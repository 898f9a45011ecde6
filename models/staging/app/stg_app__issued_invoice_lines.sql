with source as (
    select * from {{ source('app', 'issued_invoice_lines') }}
),

final as (
    select
        invoice_id,
        line_number,
        line_type,
        model_id,
        token_class,
        quantity_tokens,
        unit_price_per_1m_tokens,
        tier_from_tokens,
        credit_grant_id,
        corrects_invoice_id,
        corrected_line_type,
        amount,
        currency
    from source
)

select * from final
