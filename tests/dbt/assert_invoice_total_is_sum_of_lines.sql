-- An invoice's total is the exact sum of its rounded lines.
with lines as (
    select tenant_id, invoice_month, sum(amount) as lines_total, count(*) as line_count
    from {{ ref('fct_invoice_lines') }}
    group by tenant_id, invoice_month
)

select invoices.*, lines.lines_total
from {{ ref('fct_invoices') }} as invoices
full outer join lines using (tenant_id, invoice_month)
where invoices.total_amount is distinct from lines.lines_total
    or invoices.line_count is distinct from lines.line_count
