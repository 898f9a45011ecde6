with source as (
    select * from {{ source('meterhouse', 'quarantined_events') }}
),

final as (
    select
        file_id,
        source_row,
        request_id,
        tenant_id,
        rules_broken,
        detail,
        row_json,
        quarantined_at
    from source
)

select * from final
