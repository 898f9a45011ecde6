{{ config(materialized='view') }}  -- 10M+ rows: read once, by int_usage_days_rated
-- One row per stored event, held ones included (is_held: int_usage_days_rated leaves them
-- out; fct_invoice_line_requests traces what issued invoices billed), with the price in force
-- at event_at for each token class
-- (int_price_choices has already applied the tier and context fallbacks) and its vendor
-- cost. Class fallbacks (docs/pricing.md): cache read and cache write pay the input price,
-- a 1-hour cache write the cache-write price (else the input price), reasoning the output
-- price, when the model has no price of their own (macro price_with_fallbacks). No input or output
-- price: the event is unpriced (api_cost_usd null, never 0). A request a gateway served from
-- its own cache (is_served_from_cache) called no provider: api_cost_usd 0 on purpose, priced or
-- not; its list prices stay, for the sell side (docs/decisions/0028). provider: the event's own
-- (event_provider), else the catalog's provider of the model it resolved to, else null.
with events as (
    select * from {{ ref('stg_meterhouse__usage_events_stored') }}
),

resolved as (
    select * from {{ ref('int_model_names_resolved') }}
),

choices as (
    select * from {{ ref('int_price_choices') }}
),

with_prices as (
    select
        events.*,
        resolved.model_id,
        resolved.resolution_rule,
        coalesce(events.event_provider, resolved.model_provider) as provider,
        {%- for c in price_classes() %}
        {{ price_with_fallbacks('choices', c) }} as {{ c.price_column }}{{ "," if not loop.last }}
        {%- endfor %}
    from events
    left join resolved on resolved.model_name = events.model_name
    left join choices
        on choices.model_id = resolved.model_id
        and choices.service_tier = events.service_tier
        and choices.is_above_context = (
            choices.context_threshold_tokens > 0
            and events.input_tokens > choices.context_threshold_tokens
        )
        and choices.valid_from <= events.event_at
        and (choices.valid_to is null or choices.valid_to > events.event_at)
),

final as (
    select
        *,
        status = 'success' as is_success,
        {{ has_required_prices() }} as is_priced,
        case
            when is_served_from_cache then cast(0 as decimal(38, 18))
            when {{ has_required_prices() }} then
                {{ list_cost('input') }} + {{ list_cost('output') }}
        end as api_cost_usd
    from with_prices
)

select * from final
