{#- Both strategies replace whole days: DuckDB deletes and re-inserts the usage_dates of the
    new rows; Spark stores a partition per usage_date and overwrites the partitions of the new
    rows (docs/scale-out.md). Every day rated has a marker row, so a day is replaced even when
    none of its events is left (all held). -#}
{#- A column added to the rating (region, decision 0026; the 1-hour cache writes and their
    price) is appended to a warehouse's table on DuckDB, null on the days rated before
    (int_usage_priced_daily reads those); Spark fails on a changed schema, as it did before. -#}
{{ config(materialized='incremental', unique_key='usage_date',
          on_schema_change='append_new_columns' if target.type != 'spark' else 'fail',
          incremental_strategy='insert_overwrite' if target.type == 'spark' else 'delete+insert',
          partition_by=['usage_date'] if target.type == 'spark' else none) }}
-- grain: one row per tenant, raw model name, resolved model, day, provider, region,
-- self-hosted or not, service tier, success, served from a gateway's cache or not,
-- priced-or-not and per-class list prices; plus one
-- day marker
-- (is_day_marker) per usage_date rated
-- The one pass over the events: usage and vendor cost per group (a price change or a context
-- tier splits a group, so an invoice line has one unit price). int_usage_priced_daily is this
-- without the markers, and fct_usage_daily, fct_unpriced_usage and the invoice lines read it,
-- so the events are rated once per build.
-- Incremental (docs/decisions/0004): every change to loaded data records the days it changed
-- in raw.changed_days under an increasing change_id (a load, a hold, a release...); a run
-- re-rates, from all of their events, the days recorded after rated_through_change_id, the
-- last change the table has rated. No lookback window: a late event re-rates its own day,
-- however old; so does a held or released one.
with changes as (
    select change_id, usage_date
    from {{ ref('stg_meterhouse__changed_days') }}
    where dataset = 'usage_events'
),

-- every change recorded when the run starts: what this run rates through
rated_through as (
    select coalesce(max(change_id), 0) as change_id from changes
),

days_to_rate as (
    select distinct usage_date
    from changes
    {%- if is_incremental() %}
    where change_id > (select coalesce(max(rated_through_change_id), 0) from {{ this }})
    {%- endif %}
),

-- the events in the marts: held ones are left out
priced as (
    select * from {{ ref('int_usage_events_priced') }}
    where not is_held
    {%- if is_incremental() %}
        and usage_date in (select usage_date from days_to_rate)
    {%- endif %}
),

usage_groups as (
    select
        tenant_id,
        model_name,
        model_id,
        usage_date,
        provider,
        region,
        -- a cache hit ran on no GPU, whatever the event says
        gpu_id is not null and not is_served_from_cache as is_self_hosted,
        service_tier,
        is_success,
        is_served_from_cache,
        is_priced,
        {%- for c in price_classes() %}
        {{ c.price_column }},
        {%- endfor %}
        count(*) as request_count,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens,
        sum(cache_write_tokens) as cache_write_tokens,
        {%- for c in token_classes() %}
        sum({{ c.quantity_column }}) as {{ c.quantity_column }},
        {%- endfor %}
        sum(api_cost_usd) as api_cost_usd,
        max(file_id) as last_file_id
    from priced
    group by
        tenant_id, model_name, model_id, usage_date, provider, region,
        gpu_id is not null and not is_served_from_cache, service_tier, is_success,
        is_served_from_cache, is_priced,
        {%- for c in price_classes() %}
        {{ c.price_column }}{{ "," if not loop.last }}
        {%- endfor %}
),

final as (
    select
        usage_groups.*,
        false as is_day_marker,
        rated_through.change_id as rated_through_change_id
    from usage_groups
    cross join rated_through
    union all
    -- one marker per day rated (nulls take the usage rows' types on both engines)
    select
        null, null, null, days_to_rate.usage_date, null, null, null, null, null, null, null,
        {%- for c in price_classes() %} null,{% endfor %}
        null, null, null, null,
        {%- for c in token_classes() %} null,{% endfor %}
        null, null,
        true,
        rated_through.change_id
    from days_to_rate
    cross join rated_through
)

select * from final
