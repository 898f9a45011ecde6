-- grain: one row per tenant_id, invoice_month and line_number
-- The rounded lines (usage, free allowance, tier discounts, discount, commitment shortfall)
-- and a credit line for what a prepaid grant pays; an invoice's total is the sum of its lines.
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

all_lines as (
    select * from rounded
    union all by name
    select * from credits
),

final as (
    select
        tenant_id,
        invoice_month,
        cast(row_number() over (
            partition by tenant_id, invoice_month
            order by line_type_order, model_id, token_class, unit_price_per_1m_tokens,
                tier_from_tokens, credit_grant_id
        ) as bigint) as line_number,
        line_type,
        model_id,
        token_class,
        cast(quantity_tokens as bigint) as quantity_tokens,
        cast(unit_price_per_1m_tokens as decimal(38, 12)) as unit_price_per_1m_tokens,
        tier_from_tokens,
        cast(credit_grant_id as varchar) as credit_grant_id,
        cast(amount as decimal(38, 2)) as amount,
        currency
    from all_lines
)

select * from final
