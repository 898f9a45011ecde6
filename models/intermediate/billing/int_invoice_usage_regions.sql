-- grain: one row per tenant, invoice month, model, token class, sell unit price and region
-- The billable usage of each invoice usage line's key (int_invoice_usage_lines sums it over
-- regions) by the region that served it, priced at int_sell_prices (the plan's rate card and
-- the month's FX rate): the one place usage meets its sell price. The FOCUS export splits a
-- usage line by these regions (docs/decisions/0026). Events without a region are one group
-- (region null). A gateway's cache hit is billable only under a contract that bills them; then
-- it joins the line of the same tokens not served from cache (the same unit price).
with daily as (
    select * from {{ ref('int_usage_priced_daily') }}
    where is_priced
),

sell_prices as (
    select * from {{ ref('int_sell_prices') }}
),

by_class as (
    {{ by_token_class(
        'daily', ['tenant_id', 'model_id', 'is_success', 'is_served_from_cache', 'region']
    ) }}
),

final as (
    select
        by_class.tenant_id,
        by_class.invoice_month,
        sell_prices.currency,
        by_class.model_id,
        by_class.token_class,
        sell_prices.unit_price_per_1m_tokens,
        by_class.region,
        sum(by_class.quantity_tokens) as quantity_tokens
    from by_class
    inner join sell_prices
        on {{ matches_sell_price('sell_prices', 'by_class') }}
    where sell_prices.is_billable
    group by by_class.tenant_id, by_class.invoice_month, sell_prices.currency, by_class.model_id,
        by_class.token_class, sell_prices.unit_price_per_1m_tokens, by_class.region
)

select * from final
