-- One row per tenant, invoice month, model, token class and sell unit price: the usage the
-- tenant is billed for, priced with its plan's rate card in force at the start of the month
-- (a fixed price per 1M tokens, or a markup over the list price of that class) and converted
-- to the contract currency at the month's FX rate. Amounts unrounded: rounding happens once,
-- in fct_invoice_lines. Failed requests are billed only when the contract says so.
{%- set classes = [
    ('input', 'uncached_input_tokens', 'input_usd_per_1m_tokens'),
    ('cache_read', 'cache_read_tokens', 'cache_read_usd_per_1m_tokens'),
    ('cache_write', 'cache_write_tokens', 'cache_write_usd_per_1m_tokens'),
    ('reasoning', 'reasoning_tokens', 'reasoning_usd_per_1m_tokens'),
    ('output', 'non_reasoning_output_tokens', 'output_usd_per_1m_tokens'),
] %}
with daily as (
    select * from {{ ref('int_usage_priced_daily') }}
    where is_priced
),

contracts as (
    select * from {{ ref('int_tenant_contracts_monthly') }}
    where plan_id is not null
),

rate_cards as (
    select * from {{ ref('rate_cards') }}
),

fx_rates as (
    select * from {{ ref('fx_rates') }}
),

by_class as (
    {%- for token_class, quantity, price in classes %}
    select
        tenant_id,
        cast({{ dbt.date_trunc('month', 'usage_date') }} as date) as invoice_month,
        model_id,
        is_success,
        '{{ token_class }}' as token_class,
        {{ quantity }} as quantity_tokens,
        {{ price }} as list_usd_per_1m_tokens
    from daily
    {{ "union all" if not loop.last }}
    {%- endfor %}
),

billable as (
    select
        by_class.tenant_id,
        by_class.invoice_month,
        by_class.model_id,
        by_class.token_class,
        by_class.list_usd_per_1m_tokens,
        contracts.plan_id,
        contracts.currency,
        sum(by_class.quantity_tokens) as quantity_tokens
    from by_class
    inner join contracts
        on contracts.tenant_id = by_class.tenant_id
        and contracts.invoice_month = by_class.invoice_month
    where by_class.quantity_tokens > 0
        and (by_class.is_success or contracts.bills_failed_requests)
    group by all
),

rate_matches as (
    select
        billable.*,
        rate_cards.markup_ratio,
        rate_cards.usd_per_1m_tokens as fixed_usd_per_1m_tokens,
        row_number() over (
            partition by billable.tenant_id, billable.invoice_month, billable.model_id,
                billable.token_class, billable.list_usd_per_1m_tokens
            order by (rate_cards.model_id <> '*') desc, (rate_cards.token_class <> '*') desc
        ) as specificity_rank
    from billable
    inner join rate_cards
        on rate_cards.plan_id = billable.plan_id
        and rate_cards.model_id in (billable.model_id, '*')
        and rate_cards.token_class in (billable.token_class, '*')
        and rate_cards.effective_from <= billable.invoice_month
        and (rate_cards.effective_to is null or rate_cards.effective_to > billable.invoice_month)
),

fx_matches as (
    select
        rate_matches.*,
        fx_rates.units_per_usd,
        row_number() over (
            partition by rate_matches.tenant_id, rate_matches.invoice_month, rate_matches.model_id,
                rate_matches.token_class, rate_matches.list_usd_per_1m_tokens
            order by fx_rates.rate_month desc
        ) as fx_rank
    from rate_matches
    left join fx_rates
        on fx_rates.currency = rate_matches.currency
        and fx_rates.rate_month <= rate_matches.invoice_month
    where rate_matches.specificity_rank = 1
),

final as (
    select
        tenant_id,
        invoice_month,
        currency,
        model_id,
        token_class,
        -- the unit price is carried to 12 decimals; the line amount is quantity x unit price
        cast(
            coalesce(fixed_usd_per_1m_tokens, list_usd_per_1m_tokens * (1 + markup_ratio))
            * units_per_usd as decimal(38, 12)
        ) as unit_price_per_1m_tokens,
        sum(quantity_tokens) as quantity_tokens
    from fx_matches
    where fx_rank = 1
    group by all
)

select
    *,
    {{ amount_for_tokens('quantity_tokens', 'unit_price_per_1m_tokens') }} as unrounded_amount
from final
