with source as (
    select * from {{ source('app', 'issued_invoices') }}
),

final as (
    select
        invoice_id,
        tenant_id,
        invoice_month,
        currency,
        total_amount,
        line_count,
        issuer,
        issued_at,
        through_file_id,
        document_json,
        content_sha256
    from source
)

select * from final
