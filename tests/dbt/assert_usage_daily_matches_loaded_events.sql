-- Nothing lost, nothing counted twice: fct_usage_daily holds exactly the loaded events' tokens,
-- on the days this build rated (every day with --full-check: macros/tests/rated_days.sql).
with events as (
    select
        count(*) as requests,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens
    from {{ ref('stg_meterhouse__usage_events') }}
    where {{ rated_days('usage_date') }}
),

daily as (
    select
        sum(request_count) as requests,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens
    from {{ ref('fct_usage_daily') }}
    where {{ rated_days('usage_date') }}
)

select *
from events
cross join daily
where events.requests <> daily.requests
    or events.input_tokens <> daily.input_tokens
    or events.output_tokens <> daily.output_tokens
