-- Σ allocated + Σ idle = Σ GPU-hour cost, per day and GPU type, to the last decimal: the cost
-- mapping neither loses nor invents a cent.
with hours as (
    select usage_date, gpu_type, sum(cost_usd) as hour_cost_usd
    from {{ ref('int_gpu_hour_costs') }}
    group by usage_date, gpu_type
),

allocated as (
    select usage_date, gpu_type, sum(cost_usd) as allocated_cost_usd
    from {{ ref('int_gpu_cost_allocated') }}
    group by usage_date, gpu_type
)

select *
from hours
full outer join allocated using (usage_date, gpu_type)
where hours.hour_cost_usd is distinct from allocated.allocated_cost_usd
