-- A tenant's prepaid credit grants may not cover the same invoice month (a month would need an
-- order between them), and a grant must be in the tenant's invoice currency in every month it
-- covers (else it would silently pay nothing). Returns the offending grants.
with grants as (
    select
        *,
        {{ dbt.date_trunc('month', 'granted_on') }} as first_month,
        {{ dbt.date_trunc('month', 'expires_on') }} as end_month
    from {{ ref('credit_grants') }}
),

overlapping as (
    select a.grant_id, 'covers a month of ' || b.grant_id as problem
    from grants as a
    inner join grants as b
        on a.tenant_id = b.tenant_id
        and a.grant_id < b.grant_id
        and a.first_month < b.end_month
        and b.first_month < a.end_month
),

other_currency as (
    select grants.grant_id, 'is in ' || grants.currency || ', the invoice of '
        || cast(contracts.invoice_month as string) || ' in ' || contracts.currency as problem
    from grants
    inner join {{ ref('int_tenant_contracts_monthly') }} as contracts
        on contracts.tenant_id = grants.tenant_id
        and contracts.invoice_month >= grants.first_month
        and contracts.invoice_month < grants.end_month
    where contracts.currency <> grants.currency
)

select * from overlapping
union all
select * from other_currency
