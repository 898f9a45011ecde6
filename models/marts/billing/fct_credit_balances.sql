-- grain: one row per grant_id and invoice_month
with drawdowns as (
    select * from {{ ref('int_credit_drawdowns') }}
),

final as (
    select
        grant_id, tenant_id, invoice_month, currency, granted_amount, expires_on,
        opening_balance, drawn_amount, closing_balance
    from drawdowns
)

select * from final
