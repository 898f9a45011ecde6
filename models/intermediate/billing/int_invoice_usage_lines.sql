-- One row per tenant, invoice month, model, token class and sell unit price: the billable
-- usage of int_invoice_usage_regions over every region, in the invoice currency. Amounts
-- unrounded: rounding happens once, per invoice line (int_invoice_lines_rounded).
with regions as (
    select * from {{ ref('int_invoice_usage_regions') }}
),

final as (
    select
        tenant_id,
        invoice_month,
        currency,
        model_id,
        token_class,
        unit_price_per_1m_tokens,
        sum(quantity_tokens) as quantity_tokens
    from regions
    group by tenant_id, invoice_month, currency, model_id, token_class, unit_price_per_1m_tokens
)

select
    *,
    {{ amount_for_tokens('quantity_tokens', 'unit_price_per_1m_tokens') }} as unrounded_amount
from final
