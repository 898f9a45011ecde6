-- One row per tenant and invoice month with usage: the contract in force at the start of the
-- month, or the default plan (var default_plan_id, in var default_currency) when the tenant
-- has none. plan_id is null when no contract applies and no default is configured: such a
-- tenant's usage is kept and reported, but not invoiced. Contracts start and end on a first of
-- the month, so the contract in force at the start of the month is in force at every event of
-- it (bill_gateway_cache_hits: the one at the event's time).
with usage_months as (
    select distinct
        tenant_id,
        cast({{ dbt.date_trunc('month', 'usage_date') }} as date) as invoice_month
    from {{ ref('int_usage_priced_daily') }}
),

contracts as (
    select * from {{ ref('tenant_contracts') }}
),

final as (
    select
        usage_months.tenant_id,
        usage_months.invoice_month,
        coalesce(contracts.contract_id, 'default') as contract_id,
        {%- set default_plan = var('default_plan_id', none) %}
        coalesce(
            contracts.plan_id,
            {{ "'" ~ default_plan ~ "'" if default_plan else "cast(null as string)" }}
        ) as plan_id,
        coalesce(contracts.currency, '{{ var("default_currency", "USD") }}') as currency,
        coalesce(contracts.discount_ratio, 0) as discount_ratio,
        coalesce(contracts.monthly_commitment_amount, 0) as monthly_commitment_amount,
        coalesce(contracts.free_tokens_per_month, 0) as free_tokens_per_month,
        coalesce(contracts.bills_failed_requests, false) as bills_failed_requests,
        coalesce(contracts.bill_gateway_cache_hits, false) as bill_gateway_cache_hits
    from usage_months
    left join contracts
        on contracts.tenant_id = usage_months.tenant_id
        and contracts.effective_from <= usage_months.invoice_month
        and (contracts.effective_to is null or contracts.effective_to > usage_months.invoice_month)
)

select * from final
