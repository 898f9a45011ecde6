-- Fails when unpriced tokens exceed var('unpriced_token_share_max') of all tokens; any
-- unpriced usage at all only warns (the warn-severity test on fct_unpriced_usage).
with usage as (
    select
        sum(input_tokens + output_tokens) as all_tokens,
        sum(case when not is_priced then input_tokens + output_tokens else 0 end) as unpriced_tokens
    from {{ ref('fct_usage_daily') }}
)

select *
from usage
where unpriced_tokens > all_tokens * {{ var('unpriced_token_share_max') }}
