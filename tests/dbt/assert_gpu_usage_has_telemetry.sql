{{ config(severity='warn') }}
-- Requests served on a GPU in an hour that has no telemetry row carry no GPU cost: warn with
-- each such GPU-hour, so missing telemetry is seen, not silently priced at $0.
select usage.gpu_id, usage.hour_at, sum(usage.request_count) as request_count
from {{ ref('int_gpu_hour_usage') }} as usage
left join {{ ref('stg_meterhouse__gpu_hours') }} as hours using (gpu_id, hour_at)
where hours.gpu_id is null
group by usage.gpu_id, usage.hour_at
