-- An issued invoice never changes: the marts show it with the total and line count it was
-- issued with, whatever was loaded, re-priced or rebuilt since.
select issued.invoice_id, issued.total_amount as issued_total, invoices.total_amount,
    issued.line_count as issued_line_count, invoices.line_count
from {{ ref('stg_app__issued_invoices') }} as issued
left join {{ ref('fct_invoices') }} as invoices on invoices.invoice_id = issued.invoice_id
where invoices.status is distinct from 'issued'
    or invoices.total_amount is distinct from issued.total_amount
    or invoices.line_count is distinct from issued.line_count
