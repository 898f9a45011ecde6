-- Nothing lost, nothing counted twice: for every issued invoice, what it was issued with plus
-- every correction of it (issued or still on a draft) equals what its month computes to today.
with issued as (
    select invoice_id, tenant_id, invoice_month, total_amount
    from {{ source('meterhouse', 'issued_invoices') }}
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
where issued.total_amount + coalesce(corrections.corrected, 0) <> coalesce(computed.computed_total, 0)
