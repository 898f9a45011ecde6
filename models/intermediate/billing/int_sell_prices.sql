-- One row per tenant, invoice month, model, token class, list price, success and served from
-- a gateway's cache or not, with usage: the sell price per 1M tokens in the invoice currency,
-- and whether such requests are billed.
-- The price is the plan's rate card in force at the start of the month (a fixed price per 1M
-- tokens, or a markup over the list price of that class), converted to the contract currency
-- at the latest FX rate of or before the month. Failed requests are billed only when the
-- contract says so (bills_failed_requests), and so are requests a gateway answered from its
-- own cache (bill_gateway_cache_hits; at the same price as the same tokens not served from
-- cache, docs/decisions/0028). The one place a sell price is decided: invoice lines and the request
-- trace (fct_invoice_line_requests) both join it.
-- An issued tenant-month keeps the sell prices it was issued with (app.issued_sell_prices,
-- docs/decisions/0024): a later rate card, default plan, markup or FX rate never reprices it.
-- A key its issue did not price (usage loaded since, of a model or at a list price the month
-- had none of) is priced as above.
with daily as (
    select * from {{ ref('int_usage_priced_daily') }}
    where is_priced
),

contracts as (
    select * from {{ ref('int_tenant_contracts_monthly') }}
    where plan_id is not null
),

listed_cards as (
    select plan_id, model_id, token_class, markup_ratio, usd_per_1m_tokens, effective_from,
        effective_to
    from {{ ref('rate_cards') }}
),

-- the default plan (var default_plan_id, for tenants without a contract): a markup of var
-- default_plan_markup_ratio over the list price of every model and class, unless the rate
-- cards price a plan of that name themselves (docs/pricing.md)
default_card as (
    select
        '{{ var("default_plan_id", none) or "" }}' as plan_id,
        '*' as model_id,
        '*' as token_class,
        cast({{ var('default_plan_markup_ratio', 0) }} as decimal(9, 6)) as markup_ratio,
        cast(null as decimal(38, 12)) as usd_per_1m_tokens,
        cast('2000-01-01' as date) as effective_from,
        cast(null as date) as effective_to
),

rate_cards as (
    select * from listed_cards
    union all
    select default_card.*
    from default_card
    left join (select distinct plan_id from listed_cards) as listed
        on listed.plan_id = default_card.plan_id
    where listed.plan_id is null
),

fx_rates as (
    select * from {{ ref('fx_rates') }}
),

usage_keys as (
    select distinct
        tenant_id, invoice_month, model_id, is_success, is_served_from_cache, token_class,
        list_usd_per_1m_tokens
    from ({{ by_token_class(
        'daily', ['tenant_id', 'model_id', 'is_success', 'is_served_from_cache']
    ) }}) as by_class
),

with_contract as (
    select
        usage_keys.*,
        contracts.plan_id,
        contracts.currency,
        (usage_keys.is_success or contracts.bills_failed_requests)
            and (not usage_keys.is_served_from_cache or contracts.bill_gateway_cache_hits)
            as is_billable
    from usage_keys
    inner join contracts
        on contracts.tenant_id = usage_keys.tenant_id
        and contracts.invoice_month = usage_keys.invoice_month
),

-- a key without a rate card or FX rate keeps a null price, which fails the build (not_null)
rate_matches as (
    select
        with_contract.*,
        rate_cards.markup_ratio,
        rate_cards.usd_per_1m_tokens as fixed_usd_per_1m_tokens,
        row_number() over (
            partition by
                with_contract.tenant_id, with_contract.invoice_month, with_contract.model_id,
                with_contract.is_success,
                with_contract.is_served_from_cache,
                with_contract.token_class,
                with_contract.list_usd_per_1m_tokens
            order by (rate_cards.model_id <> '*') desc, (rate_cards.token_class <> '*') desc
        ) as specificity_rank
    from with_contract
    left join rate_cards
        on rate_cards.plan_id = with_contract.plan_id
        and rate_cards.model_id in (with_contract.model_id, '*')
        and rate_cards.token_class in (with_contract.token_class, '*')
        and rate_cards.effective_from <= with_contract.invoice_month
        and (
            rate_cards.effective_to is null or rate_cards.effective_to > with_contract.invoice_month
        )
),

fx_matches as (
    select
        rate_matches.*,
        fx_rates.units_per_usd,
        row_number() over (
            partition by rate_matches.tenant_id, rate_matches.invoice_month, rate_matches.model_id,
                rate_matches.is_success,
                rate_matches.is_served_from_cache,
                rate_matches.token_class,
                rate_matches.list_usd_per_1m_tokens
            order by fx_rates.rate_month desc
        ) as fx_rank
    from rate_matches
    left join fx_rates
        on fx_rates.currency = rate_matches.currency
        and fx_rates.rate_month <= rate_matches.invoice_month
    where rate_matches.specificity_rank = 1
),

computed as (
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
        -- carried to 12 decimals; a line's amount is quantity x this unit price
        cast(
            coalesce(fixed_usd_per_1m_tokens, list_usd_per_1m_tokens * (1 + markup_ratio))
            * units_per_usd as decimal(38, 12)
        ) as unit_price_per_1m_tokens
    from fx_matches
    where fx_rank = 1
),

issued as (
    select
        invoices.tenant_id,
        invoices.invoice_month,
        frozen.model_id,
        frozen.is_success,
        frozen.is_served_from_cache,
        frozen.token_class,
        frozen.list_usd_per_1m_tokens,
        invoices.currency,
        frozen.is_billable,
        frozen.unit_price_per_1m_tokens
    from {{ ref('stg_app__issued_sell_prices') }} as frozen
    inner join {{ ref('stg_app__issued_invoices') }} as invoices
        on invoices.invoice_id = frozen.invoice_id
),

final as (
    select
        computed.tenant_id,
        computed.invoice_month,
        computed.model_id,
        computed.is_success,
        computed.is_served_from_cache,
        computed.token_class,
        computed.list_usd_per_1m_tokens,
        case when issued.tenant_id is null then computed.currency else issued.currency end
            as currency,
        case when issued.tenant_id is null then computed.is_billable else issued.is_billable end
            as is_billable,
        case
            when issued.tenant_id is null then computed.unit_price_per_1m_tokens
            else issued.unit_price_per_1m_tokens
        end as unit_price_per_1m_tokens
    from computed
    left join issued
        on {{ matches_sell_price('issued', 'computed') }}
)

select * from final
