-- grain: one row per tenant_id and invoice_month
-- Totals are exact sums of the rounded lines in fct_invoice_lines. status is 'issued' once
-- `meterhouse invoice issue` froze the invoice, else 'draft'. unpriced_tokens > 0 means some
-- usage of the month found no price, and the invoice must not be issued as it is.
with lines as (
    select * from {{ ref('fct_invoice_lines') }}
),

issued as (
    select * from {{ ref('stg_app__issued_invoices') }}
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
        invoice_id,
        tenant_id,
        invoice_month,
        max(currency) as currency,
        {%- set totals = ['subtotal', 'discounts', 'credits_applied', 'commitment_shortfall',
            'corrections'] %}
        {%- for total in totals %}
        sum(case when line_type in ({{ line_types_of_total(total) }}) then amount else 0 end)
            as {{ total }},
        {%- endfor %}
        sum(amount) as total_amount,
        count(*) as line_count
    from lines
    group by invoice_id, tenant_id, invoice_month
),

final as (
    select
        totals.invoice_id,
        totals.tenant_id,
        totals.invoice_month,
        totals.currency,
        case when issued.invoice_id is null then 'draft' else 'issued' end as status,
        issued.issued_at,
        issued.content_sha256,
        cast(totals.subtotal as decimal(38, 2)) as subtotal,
        cast(totals.discounts as decimal(38, 2)) as discounts,
        cast(totals.credits_applied as decimal(38, 2)) as credits_applied,
        cast(totals.commitment_shortfall as decimal(38, 2)) as commitment_shortfall,
        cast(totals.corrections as decimal(38, 2)) as corrections,
        cast(totals.total_amount as decimal(38, 2)) as total_amount,
        cast(totals.line_count as bigint) as line_count,
        cast(coalesce(unpriced.unpriced_tokens, 0) as bigint) as unpriced_tokens
    from totals
    left join issued on issued.invoice_id = totals.invoice_id
    left join unpriced
        on unpriced.tenant_id = totals.tenant_id
        and unpriced.invoice_month = totals.invoice_month
)

select * from final
