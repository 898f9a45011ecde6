{{ config(materialized='table' if target.type == 'spark' else 'view') }}
-- grain: one row per tenant_id and scenario (expected, low, high)
-- Each tenant's projected invoice for the month, unrounded (docs/forecasting.md): its scaled
-- usage lines (int_spend_projection_lines), the contract's monthly terms through the same
-- macro as invoices (monthly_adjustments), then the commitment floor, then what prepaid
-- credit is left. The contract is the projected month's, else the latest one before it.
with lines as (
    select * from {{ ref('int_spend_projection_lines') }}
),

bills as (
    select distinct tenant_id, scenario, invoice_month, trained_through_date from lines
),

contracts as (
    select * from {{ ref('int_tenant_contracts_monthly') }}
),

contract_months as (
    select bills.tenant_id, bills.invoice_month as projection_month,
        max(contracts.invoice_month) as contract_month
    from (select distinct tenant_id, invoice_month from bills) as bills
    inner join contracts
        on contracts.tenant_id = bills.tenant_id
        and contracts.invoice_month <= bills.invoice_month
    group by bills.tenant_id, bills.invoice_month
),

-- the contract's terms on each scenario's bill
bill_contracts as (
    select
        contracts.tenant_id,
        bills.scenario,
        bills.invoice_month,
        contracts.contract_id,
        contracts.currency,
        contracts.discount_ratio,
        contracts.monthly_commitment_amount,
        contracts.free_tokens_per_month
    from bills
    inner join contract_months on contract_months.tenant_id = bills.tenant_id
    inner join contracts
        on contracts.tenant_id = contract_months.tenant_id
        and contracts.invoice_month = contract_months.contract_month
),

adjustments as (
    {{ monthly_adjustments('lines', 'bill_contracts', keys=['tenant_id', 'scenario']) }}
),

usage_sums as (
    select tenant_id, scenario, sum(unrounded_amount) as usage_amount
    from lines
    group by tenant_id, scenario
),

adjustment_sums as (
    select tenant_id, scenario, sum(unrounded_amount) as adjustments_amount
    from adjustments
    group by tenant_id, scenario
),

scenario_totals as (
    select
        bills.tenant_id,
        bills.scenario,
        max(bills.invoice_month) as projection_month,
        max(bills.trained_through_date) as trained_through_date,
        max(bill_contracts.currency) as currency,
        max(bill_contracts.monthly_commitment_amount) as commitment,
        max(usage_sums.usage_amount) as usage_amount,
        coalesce(max(adjustment_sums.adjustments_amount), 0) as adjustments_amount
    from bills
    inner join bill_contracts
        on bill_contracts.tenant_id = bills.tenant_id and bill_contracts.scenario = bills.scenario
    left join usage_sums
        on usage_sums.tenant_id = bills.tenant_id and usage_sums.scenario = bills.scenario
    left join adjustment_sums
        on adjustment_sums.tenant_id = bills.tenant_id and adjustment_sums.scenario = bills.scenario
    group by bills.tenant_id, bills.scenario
),

months as (
    select distinct tenant_id, invoice_month as projection_month from bills
),

-- what each grant had paid before the projected month
drawn_before as (
    select drawn.grant_id, sum(drawn.drawn_amount) as drawn_amount
    from months
    inner join {{ ref('int_credit_drawdowns') }} as drawn
        on drawn.tenant_id = months.tenant_id
        and drawn.invoice_month < months.projection_month
    group by drawn.grant_id
),

credits as (
    select
        months.tenant_id,
        sum(grants.amount - coalesce(drawn_before.drawn_amount, 0)) as credit_left
    from months
    inner join {{ ref('credit_grants') }} as grants
        on grants.tenant_id = months.tenant_id
        and {{ dbt.date_trunc('month', 'grants.granted_on') }} <= months.projection_month
        and months.projection_month < {{ dbt.date_trunc('month', 'grants.expires_on') }}
    left join drawn_before on drawn_before.grant_id = grants.grant_id
    group by months.tenant_id
),

amounts as (
    select
        scenario_totals.*,
        coalesce(credits.credit_left, 0) as credit_left,
        greatest(usage_amount + adjustments_amount, commitment) as before_credits
    from scenario_totals
    left join credits using (tenant_id)
),

final as (
    select
        tenant_id,
        scenario,
        projection_month,
        trained_through_date,
        currency,
        commitment as monthly_commitment_amount,
        usage_amount,
        adjustments_amount,
        credit_left,
        before_credits,
        before_credits - least(credit_left, greatest(before_credits, 0)) as projected_total
    from amounts
)

select * from final
