-- One row per credit grant and invoice month it covers: what the grant pays of that month's
-- invoice (the rounded lines before credits, never below 0). A grant covers the months from
-- the month of granted_on through the last month that ends on or before expires_on and pays
-- them oldest first until it is used up; what is left after its last month lapses. A
-- tenant's grants never cover the same month (tests/dbt), so each month has at most one.
with totals as (
    select tenant_id, invoice_month, currency, sum(amount) as total_before_credits
    from {{ ref('int_invoice_lines_rounded') }}
    group by tenant_id, invoice_month, currency
),

grants as (
    select * from {{ ref('credit_grants') }}
),

covered as (
    select
        grants.grant_id,
        grants.tenant_id,
        totals.invoice_month,
        grants.currency,
        grants.amount as granted_amount,
        grants.expires_on,
        greatest(totals.total_before_credits, 0) as payable
    from grants
    inner join totals
        on totals.tenant_id = grants.tenant_id
        and totals.currency = grants.currency
        and totals.invoice_month >= {{ dbt.date_trunc('month', 'grants.granted_on') }}
        -- a month ends on or before expires_on when it starts before expires_on's month
        and totals.invoice_month < {{ dbt.date_trunc('month', 'grants.expires_on') }}
),

running as (
    select
        *,
        sum(payable) over (
            partition by grant_id
            order by invoice_month rows between unbounded preceding and current row
        ) as payable_to_date
    from covered
),

final as (
    select
        grant_id,
        tenant_id,
        invoice_month,
        currency,
        granted_amount,
        expires_on,
        cast(granted_amount - least(granted_amount, payable_to_date - payable) as decimal(38, 2))
            as opening_balance,
        cast(
            least(granted_amount, payable_to_date)
            - least(granted_amount, payable_to_date - payable)
            as decimal(38, 2)) as drawn_amount,
        cast(granted_amount - least(granted_amount, payable_to_date) as decimal(38, 2))
            as closing_balance
    from running
)

select * from final
