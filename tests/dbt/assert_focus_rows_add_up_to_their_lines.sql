-- FOCUS: the rows of an invoice line (one per region that served its usage, or one) add up to
-- the line exactly: its rounded amount and its tokens.
with focus as (
    select
        InvoiceId as invoice_id,
        x_LineNumber as line_number,
        sum(BilledCost) as billed,
        sum(ConsumedQuantity) as consumed_tokens
    from {{ ref('fct_focus_billing') }}
    group by InvoiceId, x_LineNumber
)

select lines.invoice_id, lines.line_number, lines.amount, focus.billed, lines.quantity_tokens,
    focus.consumed_tokens
from {{ ref('fct_invoice_lines') }} as lines
full outer join focus
    on focus.invoice_id = lines.invoice_id and focus.line_number = lines.line_number
where lines.amount is distinct from focus.billed
    or cast(lines.quantity_tokens as decimal(38, 0)) is distinct from focus.consumed_tokens
