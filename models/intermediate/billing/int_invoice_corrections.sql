-- Correction lines for issued invoices (docs/decisions/0007). An issued invoice never
-- changes; what today's computation says about its month beyond what was issued, and beyond
-- the corrections already issued for it, becomes correction lines on the tenant's next open
-- invoice: the month after its latest issued one. Per line key (line type, model, token
-- class, unit price, tier, grant):
--   correction = computed now - issued - corrections already issued for that invoice.
-- The deltas are differences of lines rounded once, so nothing is rounded again, and a
-- rebuild recomputes the same open corrections: a correction is never created twice.
{%- set key = [
    'model_id', 'token_class', 'unit_price_per_1m_tokens', 'tier_from_tokens', 'credit_grant_id'
] %}
with computed as (
    select * from {{ ref('int_invoice_lines_computed') }}
),

issued_invoices as (
    select * from {{ ref('stg_app__issued_invoices') }}
),

issued_lines as (
    select * from {{ ref('stg_app__issued_invoice_lines') }}
),

-- what each issued invoice's month computes to today, line by line
recomputed as (
    select
        issued_invoices.invoice_id as corrects_invoice_id,
        computed.line_type as corrected_line_type,
        {% for column in key %}computed.{{ column }},
        {% endfor %}
        computed.quantity_tokens,
        computed.amount
    from computed
    inner join issued_invoices
        on issued_invoices.tenant_id = computed.tenant_id
        and issued_invoices.invoice_month = computed.invoice_month
),

-- what was issued for it: its own lines, and correction lines on later issued invoices
already_billed as (
    select
        coalesce(corrects_invoice_id, invoice_id) as corrects_invoice_id,
        coalesce(corrected_line_type, line_type) as corrected_line_type,
        {% for column in key %}{{ column }},
        {% endfor %}
        quantity_tokens,
        amount
    from issued_lines
),

deltas as (
    select
        corrects_invoice_id,
        corrected_line_type,
        {% for column in key %}{{ column }},
        {% endfor %}
        sum(quantity_tokens) as quantity_tokens,
        sum(amount) as amount
    from (
        select * from recomputed
        union all
        select
            corrects_invoice_id,
            corrected_line_type,
            {% for column in key %}{{ column }},
            {% endfor %}
            -quantity_tokens, -amount
        from already_billed
    ) as both_sides
    group by corrects_invoice_id, corrected_line_type, {{ key | join(', ') }}
    having sum(amount) <> 0 or coalesce(sum(quantity_tokens), 0) <> 0
),

next_open as (
    select
        tenant_id,
        cast({{ dbt.dateadd('month', 1, 'max(invoice_month)') }} as date) as invoice_month
    from issued_invoices
    group by tenant_id
),

final as (
    select
        corrected.tenant_id,
        next_open.invoice_month,
        corrected.currency,
        'correction' as line_type,
        {{ line_type_order('correction') }} as line_type_order,
        deltas.corrects_invoice_id,
        deltas.corrected_line_type,
        {% for column in key %}deltas.{{ column }},
        {% endfor %}
        cast(deltas.quantity_tokens as bigint) as quantity_tokens,
        cast(deltas.amount as decimal(38, 2)) as amount
    from deltas
    inner join issued_invoices as corrected on corrected.invoice_id = deltas.corrects_invoice_id
    inner join next_open on next_open.tenant_id = corrected.tenant_id
)

select * from final
