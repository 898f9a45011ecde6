-- One row per loaded event, with the list price in force at event_at for each token class
-- and its vendor cost. Price choice: the event's service tier before standard, then the
-- context tier its input_tokens reach before the base price. Class fallbacks (docs/pricing.md):
-- cache read and cache write fall back to the input price, reasoning to the output price.
-- No price for input or output: the event is unpriced (api_cost_usd null, never 0).
{%- set classes = ['input', 'output', 'cache_read', 'cache_write', 'reasoning'] %}
{%- set picks = ['above_tier', 'base_tier', 'above_standard', 'base_standard'] %}
with events as (
    select * from {{ ref('stg_meterhouse__usage_events') }}
),

resolved as (
    select * from {{ ref('int_model_names_resolved') }}
),

versions as (
    select * from {{ ref('int_price_versions_pivoted') }}
),

events_resolved as (
    select
        events.*,
        resolved.model_id,
        resolved.resolution_rule
    from events
    left join resolved on resolved.model_name = events.model_name
),

with_prices as (
    select
        e.*,
        {%- for c in classes %}
        coalesce(
            {%- for p in picks %}
            {{ p }}.{{ c }}_usd_per_1m_tokens{{ "," if not loop.last }}
            {%- endfor %}
        ) as {{ c }}_usd_per_1m_tokens{{ "," if not loop.last }}
        {%- endfor %}
    from events_resolved as e
    {%- for p in picks %}
    left join versions as {{ p }}
        on {{ p }}.model_id = e.model_id
        and {{ p }}.service_tier = {{ "e.service_tier" if p.endswith("tier") else "'standard'" }}
        {%- if p.startswith("above") %}
        and {{ p }}.min_context_tokens > 0
        and e.input_tokens > {{ p }}.min_context_tokens
        {%- else %}
        and {{ p }}.min_context_tokens = 0
        {%- endif %}
        and {{ p }}.valid_from <= e.event_at
        and ({{ p }}.valid_to is null or {{ p }}.valid_to > e.event_at)
    {%- endfor %}
),

final as (
    select
        *,
        input_usd_per_1m_tokens is not null and output_usd_per_1m_tokens is not null as is_priced,
        case when input_usd_per_1m_tokens is not null and output_usd_per_1m_tokens is not null then
            {{ tokens_cost_usd('uncached_input_tokens', 'input_usd_per_1m_tokens') }}
            + {{ tokens_cost_usd('cache_read_tokens', 'coalesce(cache_read_usd_per_1m_tokens, input_usd_per_1m_tokens)') }}
            + {{ tokens_cost_usd('cache_write_tokens', 'coalesce(cache_write_usd_per_1m_tokens, input_usd_per_1m_tokens)') }}
            + {{ tokens_cost_usd('reasoning_tokens', 'coalesce(reasoning_usd_per_1m_tokens, output_usd_per_1m_tokens)') }}
            + {{ tokens_cost_usd('non_reasoning_output_tokens', 'output_usd_per_1m_tokens') }}
        end as api_cost_usd
    from with_prices
)

select * from final
