{#- The monthly terms of each contract as adjustment lines, unrounded: free allowance, volume
    tier discounts, contract discount (int_invoice_adjustments; the spend projection applies
    the same terms to projected usage in int_spend_projection_scenarios). A whole query, with
    CTEs of its own: the body of a model, or of one CTE.
    `usage_lines`: a relation with the `keys` columns, invoice_month, currency, quantity_tokens
    and unrounded_amount; `contracts`: one with the `keys` columns, invoice_month and
    int_tenant_contracts_monthly's terms (contract_id, discount_ratio,
    monthly_commitment_amount, free_tokens_per_month); `keys`: the columns that, with
    invoice_month, name one bill (['tenant_id'] for an invoice). Returns the `keys` columns,
    invoice_month, currency, line_type, tier_from_tokens and unrounded_amount. The free
    allowance and tiers value tokens pro rata at the month's average unit price. -#}
{% macro monthly_adjustments(usage_lines, contracts, keys) -%}
{%- set bill = keys | join(', ') ~ ', invoice_month' -%}
with adj_tiers as (
    select
        *,
        lead(from_tokens) over (partition by contract_id order by from_tokens) as to_tokens
    from {{ ref('contract_volume_tiers') }}
),

adj_usage as (
    select
        {{ bill }},
        currency,
        sum(unrounded_amount) as usage_amount,
        sum(quantity_tokens) as billable_tokens
    from {{ usage_lines }}
    group by {{ bill }}, currency
),

adj_terms as (
    select adj_usage.*, contracts.contract_id, contracts.discount_ratio,
        contracts.monthly_commitment_amount, contracts.free_tokens_per_month
    from adj_usage
    inner join {{ contracts }} as contracts using ({{ bill }})
),

adj_free_allowance as (
    select
        *,
        {{ prorate('usage_amount', 'least(free_tokens_per_month, billable_tokens)', 'billable_tokens') }}
            as free_amount
    from adj_terms
),

adj_tier_discounts as (
    select
        {%- for key in keys %}
        adj_free_allowance.{{ key }},
        {%- endfor %}
        adj_free_allowance.invoice_month,
        adj_tiers.from_tokens,
        adj_tiers.discount_ratio,
        greatest(
            least(adj_free_allowance.billable_tokens, coalesce(adj_tiers.to_tokens, adj_free_allowance.billable_tokens))
                - adj_tiers.from_tokens,
            0
        ) as tier_tokens,
        {{ prorate('adj_free_allowance.usage_amount',
                   'greatest(least(adj_free_allowance.billable_tokens, coalesce(adj_tiers.to_tokens, adj_free_allowance.billable_tokens)) - adj_tiers.from_tokens, 0)',
                   'adj_free_allowance.billable_tokens') }} * adj_tiers.discount_ratio as tier_discount_amount
    from adj_free_allowance
    inner join adj_tiers on adj_tiers.contract_id = adj_free_allowance.contract_id
    where adj_tiers.discount_ratio > 0
),

adj_net as (
    select
        adj_free_allowance.*,
        coalesce(sum(adj_tier_discounts.tier_discount_amount), 0) as tier_discount_amount
    from adj_free_allowance
    left join adj_tier_discounts using ({{ bill }})
    group by all
),

adj_amounts as (
    select
        *,
        (usage_amount - free_amount - tier_discount_amount) * discount_ratio as discount_amount
    from adj_net
),

adj_final as (
    select {{ bill }}, currency, 'free_allowance' as line_type,
        cast(null as bigint) as tier_from_tokens, -free_amount as unrounded_amount
    from adj_amounts where free_amount > 0
    union all
    select {{ bill }}, adj_amounts.currency, 'tier_discount',
        adj_tier_discounts.from_tokens, -adj_tier_discounts.tier_discount_amount
    from adj_tier_discounts
    inner join adj_amounts using ({{ bill }})
    where adj_tier_discounts.tier_discount_amount > 0
    union all
    select {{ bill }}, currency, 'discount', null, -discount_amount
    from adj_amounts where discount_amount > 0
)

select * from adj_final
{%- endmacro %}
