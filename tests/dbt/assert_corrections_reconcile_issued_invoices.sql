-- Nothing lost, nothing counted twice: for every issued invoice, its own lines as issued (not
-- the corrections of earlier invoices it carries) plus every correction of it, issued or still
-- on a draft, equal what its month computes to today.
with issued as (
    select invoices.invoice_id, invoices.tenant_id, invoices.invoice_month,
        sum(case when lines.line_type <> 'correction' then lines.amount else 0 end) as issued_total
    from {{ ref('stg_app__issued_invoices') }} as invoices
    inner join {{ ref('stg_app__issued_invoice_lines') }} as lines using (invoice_id)
    group by invoices.invoice_id, invoices.tenant_id, invoices.invoice_month
),

corrections as (
    select corrects_invoice_id as invoice_id, sum(amount) as corrected
    from {{ ref('fct_invoice_lines') }}
    where line_type = 'correction'
    group by corrects_invoice_id
),

computed as (
    select tenant_id, invoice_month, sum(amount) as computed_total
    from {{ ref('int_invoice_lines_computed') }}
    group by tenant_id, invoice_month
)

select issued.*, corrections.corrected, computed.computed_total
from issued
left join corrections using (invoice_id)
left join computed using (tenant_id, invoice_month)
where
    issued.issued_total + coalesce(corrections.corrected, 0) <> coalesce(computed.computed_total, 0)
