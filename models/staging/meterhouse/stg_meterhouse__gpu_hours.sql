with source as (
    select * from {{ source('meterhouse', 'gpu_hours') }}
),

final as (
    select
        gpu_id,
        hour_at,
        cast(hour_at as date) as usage_date,
        powered_seconds,
        busy_seconds,
        file_id
    from source
)

select * from final
