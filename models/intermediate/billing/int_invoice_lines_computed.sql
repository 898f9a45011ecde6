-- The invoice lines as today's data, prices and contracts compute them, before any invoice
-- is issued: the rounded lines (usage, free allowance, tier discounts, discount, commitment
-- shortfall) and a credit line for what a prepaid grant pays. Unnumbered; fct_invoice_lines
-- shows these for open months and the frozen lines for issued ones.
with rounded as (
    select * from {{ ref('int_invoice_lines_rounded') }}
),

credits as (
    select
        tenant_id,
        invoice_month,
        currency,
        'credit' as line_type,
        6 as line_type_order,
        grant_id as credit_grant_id,
        -drawn_amount as amount
    from {{ ref('int_credit_drawdowns') }}
    where drawn_amount > 0
),

final as (
    select * from rounded
    union all by name
    select * from credits
)

select * from final
