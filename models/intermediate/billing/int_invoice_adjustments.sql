-- One row per tenant, invoice month and adjustment: the monthly terms of the contract,
-- computed on the unrounded usage amount (rounding happens once, in fct_invoice_lines).
-- Order: free allowance, volume tier discounts, contract discount; the commitment shortfall
-- is computed in fct_invoice_lines from the rounded lines, so that it tops the invoice up to
-- exactly the commitment.
-- The free allowance and tiers value tokens pro rata at the month's average unit price.
with usage_lines as (
    select * from {{ ref('int_invoice_usage_lines') }}
),

contracts as (
    select * from {{ ref('int_tenant_contracts_monthly') }}
),

tiers as (
    select
        *,
        lead(from_tokens) over (partition by contract_id order by from_tokens) as to_tokens
    from {{ ref('contract_volume_tiers') }}
),

usage as (
    select
        tenant_id,
        invoice_month,
        currency,
        sum(unrounded_amount) as usage_amount,
        sum(quantity_tokens) as billable_tokens
    from usage_lines
    group by tenant_id, invoice_month, currency
),

terms as (
    select usage.*, contracts.contract_id, contracts.discount_ratio,
        contracts.monthly_commitment_amount, contracts.free_tokens_per_month
    from usage
    inner join contracts using (tenant_id, invoice_month)
),

free_allowance as (
    select
        *,
        {{ prorate('usage_amount', 'least(free_tokens_per_month, billable_tokens)', 'billable_tokens') }}
            as free_amount
    from terms
),

tier_discounts as (
    select
        free_allowance.tenant_id,
        free_allowance.invoice_month,
        tiers.from_tokens,
        tiers.discount_ratio,
        greatest(
            least(free_allowance.billable_tokens, coalesce(tiers.to_tokens, free_allowance.billable_tokens))
                - tiers.from_tokens,
            0
        ) as tier_tokens,
        {{ prorate('free_allowance.usage_amount',
                   'greatest(least(free_allowance.billable_tokens, coalesce(tiers.to_tokens, free_allowance.billable_tokens)) - tiers.from_tokens, 0)',
                   'free_allowance.billable_tokens') }} * tiers.discount_ratio as tier_discount_amount
    from free_allowance
    inner join tiers on tiers.contract_id = free_allowance.contract_id
    where tiers.discount_ratio > 0
),

net as (
    select
        free_allowance.*,
        coalesce(sum(tier_discounts.tier_discount_amount), 0) as tier_discount_amount
    from free_allowance
    left join tier_discounts using (tenant_id, invoice_month)
    group by all
),

amounts as (
    select
        *,
        (usage_amount - free_amount - tier_discount_amount) * discount_ratio as discount_amount
    from net
),

final as (
    select tenant_id, invoice_month, currency, 'free_allowance' as line_type,
        cast(null as bigint) as tier_from_tokens, -free_amount as unrounded_amount
    from amounts where free_amount > 0
    union all
    select tenant_id, invoice_month, amounts.currency, 'tier_discount',
        tier_discounts.from_tokens, -tier_discounts.tier_discount_amount
    from tier_discounts
    inner join amounts using (tenant_id, invoice_month)
    where tier_discounts.tier_discount_amount > 0
    union all
    select tenant_id, invoice_month, currency, 'discount', null, -discount_amount
    from amounts where discount_amount > 0

)

select * from final
