-- Fails when unpriced tokens exceed var('unpriced_token_share_max') of all tokens; any
-- unpriced usage at all only warns (the warn-severity test on fct_unpriced_usage).
-- Unpriced as fct_unpriced_usage lists it: a gateway's cache hit needs no vendor price.
with usage as (
    select sum(input_tokens + output_tokens) as all_tokens
    from {{ ref('fct_usage_daily') }}
),

unpriced as (
    select coalesce(sum(input_tokens + output_tokens), 0) as unpriced_tokens
    from {{ ref('fct_unpriced_usage') }}
)

select *
from usage
cross join unpriced
where unpriced_tokens > all_tokens * {{ var('unpriced_token_share_max') }}
