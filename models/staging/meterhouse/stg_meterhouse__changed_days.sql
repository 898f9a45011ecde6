with source as (
    select * from {{ source('meterhouse', 'changed_days') }}
),

final as (
    select
        change_id,
        dataset,
        usage_date,
        change_kind,
        first_file_id,
        last_file_id,
        row_count,
        changed_at,
        changed_by,
        detail
    from source
)

select * from final
