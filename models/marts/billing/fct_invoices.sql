-- grain: one row per tenant_id and invoice_month
-- Totals are exact sums of the rounded lines in fct_invoice_lines; unpriced_tokens > 0 means
-- some usage of the month found no price, and the invoice must not be issued as it is.
with lines as (
    select * from {{ ref('fct_invoice_lines') }}
),

unpriced as (
    select
        tenant_id,
        cast({{ dbt.date_trunc('month', 'usage_date') }} as date) as invoice_month,
        sum(input_tokens + output_tokens) as unpriced_tokens
    from {{ ref('fct_unpriced_usage') }}
    group by 1, 2
),

totals as (
    select
        tenant_id,
        invoice_month,
        max(currency) as currency,
        sum(case when line_type = 'usage' then amount else 0 end) as subtotal,
        sum(case when line_type in ('free_allowance', 'tier_discount', 'discount') then amount else 0 end)
            as discounts,
        sum(case when line_type = 'credit' then amount else 0 end) as credits_applied,
        sum(case when line_type = 'commitment_shortfall' then amount else 0 end)
            as commitment_shortfall,
        sum(amount) as total_amount,
        count(*) as line_count
    from lines
    group by tenant_id, invoice_month
),

final as (
    select
        totals.tenant_id,
        totals.invoice_month,
        totals.currency,
        cast(totals.subtotal as decimal(38, 2)) as subtotal,
        cast(totals.discounts as decimal(38, 2)) as discounts,
        cast(totals.credits_applied as decimal(38, 2)) as credits_applied,
        cast(totals.commitment_shortfall as decimal(38, 2)) as commitment_shortfall,
        cast(totals.total_amount as decimal(38, 2)) as total_amount,
        cast(totals.line_count as bigint) as line_count,
        cast(coalesce(unpriced.unpriced_tokens, 0) as bigint) as unpriced_tokens
    from totals
    left join unpriced using (tenant_id, invoice_month)
)

select * from final
