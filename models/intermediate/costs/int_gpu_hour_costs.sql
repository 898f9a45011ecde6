-- What each loaded GPU-hour cost: its powered share of the hour at the rate in force at
-- hour_at, the GPU's contract rate from gpu_inventory when it has one, else the list rate of
-- its type (gpu_list_rates). A GPU missing from the inventory, or a type without any rate,
-- leaves gpu_type or cost_usd null, and the tests fail the build: a GPU-hour is never free.
with hours as (
    select * from {{ ref('stg_meterhouse__gpu_hours') }}
),

inventory as (
    select * from {{ ref('gpu_inventory') }}
),

list_rates as (
    select * from {{ ref('gpu_list_rates') }}
),

with_inventory as (
    select
        hours.*,
        inventory.gpu_type,
        inventory.contract_usd_per_gpu_hour
    from hours
    left join inventory
        on inventory.gpu_id = hours.gpu_id
        and inventory.effective_from <= hours.hour_at
        and (inventory.effective_to is null or inventory.effective_to > hours.hour_at)
),

with_list_rate as (
    select
        with_inventory.*,
        list_rates.usd_per_gpu_hour as list_usd_per_gpu_hour,
        row_number() over (
            partition by with_inventory.gpu_id, with_inventory.hour_at
            order by list_rates.effective_from desc
        ) as list_rate_rank
    from with_inventory
    left join list_rates
        on list_rates.gpu_type = with_inventory.gpu_type
        and list_rates.effective_from <= with_inventory.hour_at
),

final as (
    select
        gpu_id,
        hour_at,
        usage_date,
        gpu_type,
        powered_seconds,
        busy_seconds,
        coalesce(contract_usd_per_gpu_hour, list_usd_per_gpu_hour) as usd_per_gpu_hour,
        case
            when contract_usd_per_gpu_hour is not null then 'contract'
            when list_usd_per_gpu_hour is not null then 'list'
        end as rate_source,
        -- rate x powered milliseconds / 3,600,000, exact to 1e-12
        {{ prorate(
            'coalesce(contract_usd_per_gpu_hour, list_usd_per_gpu_hour)',
            'cast(round(powered_seconds * 1000) as bigint)',
            '3600000'
        ) }} as cost_usd
    from with_list_rate
    where list_rate_rank = 1
)

select * from final
