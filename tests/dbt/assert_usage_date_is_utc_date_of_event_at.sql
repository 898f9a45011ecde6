-- usage_date is derived once, at load, as the UTC date of event_at (docs/decisions/0002);
-- a row where they disagree would be billed on the wrong day. The days this build rated
-- (every day with --full-check: macros/tests/rated_days.sql).
select request_id, event_at, usage_date
from {{ ref('stg_meterhouse__usage_events') }}
where usage_date <> cast(event_at as date)
    and {{ rated_days('usage_date') }}
