-- The GPU cost mapping (docs/gpu-cost.md), the one place it is computed: every GPU-hour's cost
-- goes to the requests served on that GPU in that hour, split by weighted tokens (input x
-- var('gpu_cost_weight_input'), output x var('gpu_cost_weight_output')), one row per token
-- direction so input and output costs add up to the whole. A GPU-hour with nothing served is
-- idle: var('gpu_idle_cost') = 'report' keeps it as an idle row of its GPU type and day;
-- 'spread' splits each day's idle cost of a GPU type over that day's usage on that type by the
-- same weights (a day with no usage on the type keeps it as idle). Every split is exact
-- (allocate_exactly), so the rows add up to the GPU-hour costs to the last decimal (a test).
{%- set idle_policy = var('gpu_idle_cost') %}
{%- if idle_policy not in ['report', 'spread'] %}
    {{ exceptions.raise_compiler_error("var gpu_idle_cost must be 'report' or 'spread', not '" ~ idle_policy ~ "'") }}
{%- endif %}
with hour_costs as (
    select * from {{ ref('int_gpu_hour_costs') }}
),

hour_usage as (
    select * from {{ ref('int_gpu_hour_usage') }}
),

directions as (
    select
        gpu_id, hour_at, tenant_id, model_id, is_success,
        'input' as token_direction,
        input_tokens as tokens,
        input_tokens * {{ var('gpu_cost_weight_input') }} as weight
    from hour_usage
    union all
    select
        gpu_id, hour_at, tenant_id, model_id, is_success,
        'output' as token_direction,
        output_tokens as tokens,
        output_tokens * {{ var('gpu_cost_weight_output') }} as weight
    from hour_usage
),

hour_weights as (
    select gpu_id, hour_at, sum(weight) as hour_weight
    from directions
    group by gpu_id, hour_at
),

served_hours as (
    select
        directions.*,
        hour_costs.usage_date,
        hour_costs.gpu_type,
        hour_costs.cost_usd
    from directions
    inner join hour_costs using (gpu_id, hour_at)
    inner join hour_weights using (gpu_id, hour_at)
    where hour_weights.hour_weight > 0
),

hour_allocated as (
    {{ allocate_exactly(
        'served_hours', 'cost_usd', 'weight', 'gpu_id, hour_at',
        'tenant_id, model_id, is_success, token_direction'
    ) }}
),

day_usage as (
    select
        usage_date, gpu_type, tenant_id, model_id, is_success, token_direction,
        sum(tokens) as tokens,
        sum(weight) as weight,
        sum(allocated_usd) as allocated_cost_usd
    from hour_allocated
    group by usage_date, gpu_type, tenant_id, model_id, is_success, token_direction
),

idle_days as (
    select hour_costs.usage_date, hour_costs.gpu_type, sum(hour_costs.cost_usd) as idle_cost_usd
    from hour_costs
    left join hour_weights using (gpu_id, hour_at)
    where coalesce(hour_weights.hour_weight, 0) = 0
    group by hour_costs.usage_date, hour_costs.gpu_type
),

{%- if idle_policy == 'spread' %}

day_weights as (
    select usage_date, gpu_type, sum(weight) as day_weight
    from day_usage
    group by usage_date, gpu_type
),

spread_base as (
    select day_usage.*, idle_days.idle_cost_usd
    from day_usage
    inner join idle_days using (usage_date, gpu_type)
    inner join day_weights using (usage_date, gpu_type)
    where day_weights.day_weight > 0
),

spread as (
    {{ allocate_exactly(
        'spread_base', 'idle_cost_usd', 'weight', 'usage_date, gpu_type',
        'tenant_id, model_id, is_success, token_direction'
    ) }}
),
{%- else %}

spread as (
    select *, cast(0 as decimal(38, 12)) as allocated_usd
    from day_usage
    where false
),
{%- endif %}

usage_rows as (
    select
        day_usage.usage_date,
        day_usage.gpu_type,
        day_usage.tenant_id,
        day_usage.model_id,
        day_usage.is_success,
        day_usage.token_direction,
        day_usage.tokens,
        false as is_idle,
        day_usage.allocated_cost_usd,
        coalesce(spread.allocated_usd, 0) as spread_idle_cost_usd
    from day_usage
    left join spread using (usage_date, gpu_type, tenant_id, model_id, is_success, token_direction)
),

idle_rows as (
    select
        idle_days.usage_date,
        idle_days.gpu_type,
        null as tenant_id,
        null as model_id,
        null as is_success,
        null as token_direction,
        0 as tokens,
        true as is_idle,
        0 as allocated_cost_usd,
        idle_days.idle_cost_usd as spread_idle_cost_usd
    from idle_days
    where not exists (
        select 1 from spread
        where spread.usage_date = idle_days.usage_date and spread.gpu_type = idle_days.gpu_type
    )
),

final as (
    select
        usage_date,
        gpu_type,
        cast(tenant_id as string) as tenant_id,
        cast(model_id as string) as model_id,
        cast(is_success as boolean) as is_success,
        cast(token_direction as string) as token_direction,
        cast(tokens as bigint) as tokens,
        is_idle,
        cast(allocated_cost_usd as decimal(38, 12)) as allocated_cost_usd,
        cast(spread_idle_cost_usd as decimal(38, 12)) as idle_cost_usd,
        cast(allocated_cost_usd + spread_idle_cost_usd as decimal(38, 12)) as cost_usd
    from (
        select * from usage_rows
        union all
        select * from idle_rows
    ) as all_rows
)

select * from final
