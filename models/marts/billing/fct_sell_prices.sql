-- grain: one row per tenant_id, invoice_month, model_id, is_success, is_served_from_cache,
-- token_class, list price
-- The sell prices of each tenant's month with usage (int_sell_prices, the one place a sell
-- price is decided), for the CLI: `meterhouse invoice issue` freezes an issued invoice's rows
-- in app.issued_sell_prices, so its lines trace to their requests whatever changes later.
with sell_prices as (
    select * from {{ ref('int_sell_prices') }}
),

final as (
    select
        tenant_id,
        invoice_month,
        model_id,
        is_success,
        is_served_from_cache,
        token_class,
        list_usd_per_1m_tokens,
        currency,
        is_billable,
        unit_price_per_1m_tokens
    from sell_prices
)

select * from final
