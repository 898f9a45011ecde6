-- FOCUS: the BilledCost of an invoice's rows sums to that invoice's total, and its rows carry
-- every line of it (a line is one row per region, or one), for every invoice.
with focus as (
    select InvoiceId as invoice_id, sum(BilledCost) as billed,
        count(distinct x_LineNumber) as line_count
    from {{ ref('fct_focus_billing') }}
    group by InvoiceId
)

select
    invoices.invoice_id, invoices.total_amount, focus.billed, invoices.line_count,
    focus.line_count as focus_line_count
from {{ ref('fct_invoices') }} as invoices
full outer join focus using (invoice_id)
where invoices.total_amount is distinct from focus.billed
    or invoices.line_count is distinct from focus.line_count
