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
        {{ line_type_order('credit') }} as line_type_order,
        grant_id as credit_grant_id,
        -drawn_amount as amount
    from {{ ref('int_credit_drawdowns') }}
    where drawn_amount > 0
),

final as (
    select
        {{ invoice_line_columns(
            missing=['credit_grant_id', 'corrects_invoice_id', 'corrected_line_type']
        ) }}
    from rounded
    union all
    select
        {{ invoice_line_columns(missing=['model_id', 'token_class', 'quantity_tokens',
            'unit_price_per_1m_tokens', 'tier_from_tokens', 'corrects_invoice_id',
            'corrected_line_type']) }}
    from credits
)

select * from final
