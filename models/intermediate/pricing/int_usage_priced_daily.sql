{#- Both strategies replace whole days: DuckDB deletes and re-inserts the usage_dates of the
    new rows; Spark stores a partition per usage_date and overwrites the partitions of the new
    rows (docs/scale-out.md). -#}
{{ config(materialized='incremental', unique_key='usage_date', on_schema_change='fail',
          incremental_strategy='insert_overwrite' if target.type == 'spark' else 'delete+insert',
          partition_by=['usage_date'] if target.type == 'spark' else none) }}
-- depends_on: {{ ref('stg_meterhouse__usage_events') }}
-- One pass over the events: usage and vendor cost per tenant, raw model name, resolved
-- model, day, provider, self-hosted or not, service tier, success, priced-or-not and the
-- per-class list prices applied
-- (a price change or a context tier splits a group, so an invoice line has one unit price).
-- fct_usage_daily, fct_unpriced_usage and the invoice lines all read this, so the events
-- are rated once per build.
-- Incremental (docs/decisions/0004): a run re-rates every usage_date that received events
-- from files loaded since the last run, late events included, however old their day.
with priced as (
    select * from {{ ref('int_usage_events_priced') }}
    {%- if is_incremental() %}
    where usage_date in (
        select distinct usage_date
        from {{ ref('stg_meterhouse__usage_events') }}
        where file_id > (select coalesce(max(last_file_id), 0) from {{ this }})
    )
    {%- endif %}
),

final as (
    select
        tenant_id,
        model_name,
        model_id,
        usage_date,
        provider,
        gpu_id is not null as is_self_hosted,
        service_tier,
        is_success,
        is_priced,
        input_usd_per_1m_tokens,
        output_usd_per_1m_tokens,
        cache_read_usd_per_1m_tokens,
        cache_write_usd_per_1m_tokens,
        reasoning_usd_per_1m_tokens,
        count(*) as request_count,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens,
        sum(uncached_input_tokens) as uncached_input_tokens,
        sum(cache_read_tokens) as cache_read_tokens,
        sum(cache_write_tokens) as cache_write_tokens,
        sum(reasoning_tokens) as reasoning_tokens,
        sum(non_reasoning_output_tokens) as non_reasoning_output_tokens,
        sum(api_cost_usd) as api_cost_usd,
        max(file_id) as last_file_id
    from priced
    group by
        tenant_id, model_name, model_id, usage_date, provider, gpu_id is not null,
        service_tier, is_success, is_priced,
        input_usd_per_1m_tokens, output_usd_per_1m_tokens, cache_read_usd_per_1m_tokens,
        cache_write_usd_per_1m_tokens, reasoning_usd_per_1m_tokens
)

select * from final
