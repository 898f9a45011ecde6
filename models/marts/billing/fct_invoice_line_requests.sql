{{ config(materialized='view') }}  -- one row per request and token class: queried, never stored
-- grain: one row per invoice_id, line_number and request_id
-- The requests behind each usage line, and behind each correction of a usage line, with the
-- tokens of the line's class: `meterhouse invoice explain` lists them, and their tokens sum to
-- the line's quantity. A request counts on an invoice when it has the line's tenant, month,
-- model, token class and sell price, was loaded by the invoice's issue (file_id up to its
-- through_file_id; every file, on a draft) and was not held out of the marts at that time
-- (`meterhouse quarantine`, raw.event_holds; on a draft: not held now):
--   - a usage line of an issued invoice: the sell prices it was issued with
--     (app.issued_sell_prices) and the requests that counted at its issue;
--   - a usage line of a draft: today's sell prices (int_sell_prices) and the requests that
--     count now;
--   - a correction: today's sell prices, and the requests that count at its own invoice's
--     issue (now, on a draft) but did not at the last issue that covered its month (late
--     events, released ones: their tokens), or the other way round (events held since: their
--     tokens, negative). This is exact for corrections made by late, held and released
--     events; one made by a list price re-rated into an issued month is not (the warning
--     test assert_line_requests_sum_to_correction_lines says so).
with lines as (
    select * from {{ ref('fct_invoice_lines') }}
    where coalesce(corrected_line_type, line_type) = 'usage'
),

issued as (
    select * from {{ ref('stg_app__issued_invoices') }}
),

holds as (
    select request_id, held_at, released_at from {{ ref('stg_meterhouse__event_holds') }}
),

-- each issue that covered an invoice's month: the invoice itself, and every issued invoice
-- carrying corrections of it
coverage as (
    select
        invoice_id as covered_invoice_id,
        invoice_month as issued_month,
        through_file_id,
        issued_at
    from issued
    union all
    select distinct issued_lines.corrects_invoice_id, issued.invoice_month, issued.through_file_id,
        issued.issued_at
    from {{ ref('stg_app__issued_invoice_lines') }} as issued_lines
    inner join issued on issued.invoice_id = issued_lines.invoice_id
    where issued_lines.corrects_invoice_id is not null
),

-- per line: the last covering issue before it (after_file_id, covered_at; none for a usage
-- line) and its own invoice's issue (through_file_id, own_issued_at; null on a draft)
windows as (
    select
        lines.invoice_id,
        lines.line_number,
        lines.tenant_id,
        case when lines.line_type = 'usage' and own.invoice_id is not null
            then lines.invoice_id end as priced_by_invoice_id,
        coalesce(corrected.invoice_month, lines.invoice_month) as usage_month,
        lines.model_id,
        lines.token_class,
        lines.unit_price_per_1m_tokens,
        coalesce(max(coverage.through_file_id), 0) as after_file_id,
        max(coverage.issued_at) as covered_at,
        max(own.through_file_id) as through_file_id,
        max(own.issued_at) as own_issued_at
    from lines
    left join issued as own on own.invoice_id = lines.invoice_id
    left join issued as corrected on corrected.invoice_id = lines.corrects_invoice_id
    left join coverage
        on coverage.covered_invoice_id = lines.corrects_invoice_id
        and coverage.issued_month < lines.invoice_month
    group by all
),

-- every stored event, held ones included: an issued invoice billed some that are held now
events as (
    select * from {{ ref('int_usage_events_priced') }}
    where is_priced
),

by_class as (
    {{ by_token_class(
        'events', ['request_id', 'event_at', 'file_id', 'tenant_id', 'model_id', 'is_success',
                   'is_served_from_cache']
    ) }}
),

-- today's prices for everything, and the issued prices of each issued invoice's own month
sell_prices as (
    select
        cast(null as string) as priced_by_invoice_id, tenant_id, invoice_month, model_id,
        is_success, is_served_from_cache, token_class, list_usd_per_1m_tokens, is_billable,
        unit_price_per_1m_tokens
    from {{ ref('int_sell_prices') }}
    union all
    select
        frozen.invoice_id, issued.tenant_id, issued.invoice_month, frozen.model_id,
        frozen.is_success, frozen.is_served_from_cache, frozen.token_class,
        frozen.list_usd_per_1m_tokens, frozen.is_billable, frozen.unit_price_per_1m_tokens
    from {{ ref('stg_app__issued_sell_prices') }} as frozen
    inner join issued on issued.invoice_id = frozen.invoice_id
),

billed as (
    select by_class.*, sell_prices.priced_by_invoice_id, sell_prices.unit_price_per_1m_tokens
    from by_class
    inner join sell_prices
        on {{ matches_sell_price('sell_prices', 'by_class') }}
    where sell_prices.is_billable
),

-- the requests of each line's key loaded by its own invoice's issue
candidates as (
    select
        windows.invoice_id,
        windows.line_number,
        windows.tenant_id,
        windows.after_file_id,
        windows.covered_at,
        windows.own_issued_at,
        billed.request_id,
        billed.event_at,
        billed.file_id,
        billed.quantity_tokens
    from windows
    inner join billed
        on billed.tenant_id = windows.tenant_id
        and billed.invoice_month = windows.usage_month
        and billed.model_id = windows.model_id
        and billed.token_class = windows.token_class
        and billed.unit_price_per_1m_tokens = windows.unit_price_per_1m_tokens
        and billed.priced_by_invoice_id is not distinct from windows.priced_by_invoice_id
        and (windows.through_file_id is null or billed.file_id <= windows.through_file_id)
),

-- whether a request was held at its line's own issue and at the covering issue (only
-- requests that were ever held have a row)
held_at_issues as (
    select
        candidates.invoice_id,
        candidates.line_number,
        candidates.request_id,
        max(case
            when candidates.own_issued_at is null then
                case when holds.released_at is null then 1 else 0 end
            when holds.held_at <= candidates.own_issued_at
                and (holds.released_at is null or holds.released_at > candidates.own_issued_at)
                then 1
            else 0
        end) as held_at_own,
        max(case
            when candidates.covered_at is not null
                and holds.held_at <= candidates.covered_at
                and (holds.released_at is null or holds.released_at > candidates.covered_at)
                then 1
            else 0
        end) as held_at_covered
    from candidates
    inner join holds on holds.request_id = candidates.request_id
    group by candidates.invoice_id, candidates.line_number, candidates.request_id
),

counted as (
    select
        candidates.*,
        coalesce(held_at_issues.held_at_own, 0) = 0 as counts_now,
        candidates.file_id <= candidates.after_file_id
            and coalesce(held_at_issues.held_at_covered, 0) = 0 as counted_before
    from candidates
    left join held_at_issues
        on held_at_issues.invoice_id = candidates.invoice_id
        and held_at_issues.line_number = candidates.line_number
        and held_at_issues.request_id = candidates.request_id
),

final as (
    select
        invoice_id,
        line_number,
        tenant_id,
        request_id,
        event_at,
        file_id,
        cast(case when counts_now then quantity_tokens else -quantity_tokens end as bigint)
            as quantity_tokens
    from counted
    where counts_now <> counted_before
)

select * from final
