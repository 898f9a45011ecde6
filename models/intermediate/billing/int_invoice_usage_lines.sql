-- One row per tenant, invoice month, model, token class and sell unit price: the billable
-- usage, priced at int_sell_prices (the plan's rate card and the month's FX rate). Amounts
-- unrounded: rounding happens once, per invoice line (int_invoice_lines_rounded).
with daily as (
    select * from {{ ref('int_usage_priced_daily') }}
    where is_priced
),

sell_prices as (
    select * from {{ ref('int_sell_prices') }}
),

by_class as (
    {{ by_token_class('daily', ['tenant_id', 'model_id', 'is_success']) }}
),

final as (
    select
        by_class.tenant_id,
        by_class.invoice_month,
        sell_prices.currency,
        by_class.model_id,
        by_class.token_class,
        sell_prices.unit_price_per_1m_tokens,
        sum(by_class.quantity_tokens) as quantity_tokens
    from by_class
    inner join sell_prices
        on {{ matches_sell_price('sell_prices', 'by_class') }}
    where sell_prices.is_billable
    group by by_class.tenant_id, by_class.invoice_month, sell_prices.currency, by_class.model_id,
        by_class.token_class, sell_prices.unit_price_per_1m_tokens
)

select
    *,
    {{ amount_for_tokens('quantity_tokens', 'unit_price_per_1m_tokens') }} as unrounded_amount
from final
