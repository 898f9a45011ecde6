-- grain: one row per loaded Parquet file (usage events or GPU-hour telemetry)
with manifests as (
    select * from {{ ref('stg_meterhouse__load_manifests') }}
),

loaded as (
    select file_id, count(*) as loaded_in_warehouse_count
    from {{ ref('stg_meterhouse__usage_events') }}
    group by file_id
    union all
    select file_id, count(*)
    from {{ ref('stg_meterhouse__gpu_hours') }}
    group by file_id
),

quarantined as (
    select file_id, count(*) as quarantined_in_warehouse_count
    from {{ ref('stg_meterhouse__quarantined_events') }}
    group by file_id
    union all
    select file_id, count(*)
    from {{ ref('stg_meterhouse__quarantined_gpu_hours') }}
    group by file_id
),

final as (
    select
        manifests.file_id,
        manifests.load_id,
        manifests.dataset,
        manifests.source_path,
        manifests.content_sha256,
        manifests.loaded_at,
        manifests.rows_read as read_count,
        manifests.rows_loaded as loaded_count,
        manifests.rows_duplicate as duplicate_count,
        manifests.rows_quarantined as quarantined_count,
        coalesce(loaded.loaded_in_warehouse_count, 0) as loaded_in_warehouse_count,
        coalesce(quarantined.quarantined_in_warehouse_count, 0) as quarantined_in_warehouse_count
    from manifests
    left join loaded using (file_id)
    left join quarantined using (file_id)
)

select * from final
