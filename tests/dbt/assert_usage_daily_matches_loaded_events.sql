-- Nothing lost, nothing counted twice: fct_usage_daily holds exactly the loaded events' tokens.
with events as (
    select
        count(*) as requests,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens
    from {{ ref('stg_meterhouse__usage_events') }}
),

daily as (
    select
        sum(request_count) as requests,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens
    from {{ ref('fct_usage_daily') }}
)

select *
from events
cross join daily
where events.requests <> daily.requests
    or events.input_tokens <> daily.input_tokens
    or events.output_tokens <> daily.output_tokens
