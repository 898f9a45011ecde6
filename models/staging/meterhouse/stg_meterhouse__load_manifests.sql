with source as (
    select * from {{ source('meterhouse', 'load_manifest') }}
),

final as (
    select
        file_id,
        load_id,
        dataset,
        source_path,
        size_bytes,
        content_sha256,
        rows_read,
        rows_loaded,
        rows_duplicate,
        rows_quarantined,
        loaded_at
    from source
)

select * from final
