with source as (
    select * from {{ source('meterhouse', 'quarantined_gpu_hours') }}
),

final as (
    select
        file_id,
        source_row,
        gpu_id,
        hour_at,
        rules_broken,
        detail,
        row_json,
        quarantined_at
    from source
)

select * from final
