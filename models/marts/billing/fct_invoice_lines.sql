-- grain: one row per tenant_id, invoice_month and line_number
-- An issued invoice shows its lines exactly as issued (app.issued_invoice_lines, never
-- rebuilt). An open (draft) month shows today's computed lines, then the correction lines
-- for the tenant's issued invoices (int_invoice_corrections). An invoice's total is the sum
-- of its lines.
with issued_invoices as (
    select * from {{ ref('stg_app__issued_invoices') }}
),

issued as (
    select
        issued_invoices.tenant_id,
        issued_invoices.invoice_month,
        lines.*
    from {{ ref('stg_app__issued_invoice_lines') }} as lines
    inner join issued_invoices on issued_invoices.invoice_id = lines.invoice_id
),

open_lines as (
    select computed.*
    from {{ ref('int_invoice_lines_computed') }} as computed
    left join issued_invoices
        on issued_invoices.tenant_id = computed.tenant_id
        and issued_invoices.invoice_month = computed.invoice_month
    where issued_invoices.invoice_id is null
    union all
    select {{ invoice_line_columns() }}
    from {{ ref('int_invoice_corrections') }}
),

drafts as (
    select
        *,
        {{ invoice_id('tenant_id', 'invoice_month') }} as invoice_id,
        row_number() over (
            partition by tenant_id, invoice_month
            order by line_type_order, corrects_invoice_id, corrected_line_type, model_id,
                token_class, unit_price_per_1m_tokens, tier_from_tokens, credit_grant_id
        ) as line_number
    from open_lines
),

all_lines as (
    select {{ invoice_line_columns(missing=['line_type_order'],
        extra=[['invoice_id', 'invoice_id'], ['line_number', 'line_number']]) }}
    from issued
    union all
    select {{ invoice_line_columns(
        extra=[['invoice_id', 'invoice_id'], ['line_number', 'line_number']]
    ) }}
    from drafts
),

final as (
    select
        cast(invoice_id as string) as invoice_id,
        tenant_id,
        invoice_month,
        cast(line_number as bigint) as line_number,
        line_type,
        model_id,
        token_class,
        cast(quantity_tokens as bigint) as quantity_tokens,
        cast(unit_price_per_1m_tokens as decimal(38, 12)) as unit_price_per_1m_tokens,
        cast(tier_from_tokens as bigint) as tier_from_tokens,
        cast(credit_grant_id as string) as credit_grant_id,
        cast(corrects_invoice_id as string) as corrects_invoice_id,
        cast(corrected_line_type as string) as corrected_line_type,
        cast(amount as decimal(38, 2)) as amount,
        currency
    from all_lines
)

select * from final
