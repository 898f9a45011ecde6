with source as (
    select * from {{ source('meterhouse', 'event_holds') }}
),

final as (
    select
        request_id,
        tenant_id,
        usage_date,
        file_id,
        reason,
        held_by,
        held_at,
        hold_change_id,
        released_by,
        released_at,
        release_reason,
        release_change_id,
        released_at is null as is_open
    from source
)

select * from final
