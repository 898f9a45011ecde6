-- grain: one row per loaded Parquet file (usage events or GPU-hour telemetry)
-- The row accounting of each file (docs/event-contract.md, "Accounting"), checked against the
-- tables: read = loaded + duplicate + quarantined at load (the manifest), loaded = the rows
-- stored, and loaded = in the marts + held (events held out after the fact by
-- `meterhouse quarantine`).
with manifests as (
    select * from {{ ref('stg_meterhouse__load_manifests') }}
),

-- every stored row, held events included
stored as (
    select file_id, count(*) as loaded_in_warehouse_count
    from {{ ref('stg_meterhouse__usage_events_stored') }}
    group by file_id
    union all
    select file_id, count(*)
    from {{ ref('stg_meterhouse__gpu_hours') }}
    group by file_id
),

-- what the marts read, and the open holds on record: counted apart, so that
-- loaded = in the marts + held checks the staging filter against the holds
in_marts as (
    select file_id, count(*) as in_marts_count
    from {{ ref('stg_meterhouse__usage_events') }}
    group by file_id
    union all
    select file_id, count(*)
    from {{ ref('stg_meterhouse__gpu_hours') }}
    group by file_id
),

held as (
    select file_id, count(*) as held_count
    from {{ ref('stg_meterhouse__event_holds') }}
    where is_open
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
        coalesce(stored.loaded_in_warehouse_count, 0) as loaded_in_warehouse_count,
        coalesce(quarantined.quarantined_in_warehouse_count, 0) as quarantined_in_warehouse_count,
        coalesce(in_marts.in_marts_count, 0) as in_marts_count,
        coalesce(held.held_count, 0) as held_count
    from manifests
    left join stored using (file_id)
    left join in_marts using (file_id)
    left join held using (file_id)
    left join quarantined using (file_id)
)

select * from final
