-- grain: one row per tenant_id and billing_month
-- What each tenant left us: revenue (its invoice total for the month, corrections included,
-- plus the prepaid credit it drew, which was paid for when the credit was sold; in USD at the
-- month's fx rate) minus what its usage cost, vendor APIs at list price and GPU cost allocated
-- by the GPU cost mapping (docs/gpu-cost.md). Idle GPU cost reported as idle belongs to no
-- tenant (fct_cost_per_1m_tokens shows it). A tenant with cost but no invoice has revenue 0;
-- one served at a loss has is_loss true and loss_cause says what made it one.
with invoices as (
    select * from {{ ref('fct_invoices') }}
),

fx_rates as (
    select * from {{ ref('fx_rates') }}
),

-- per invoice: the prepaid credit drawn and the discounts given, their corrections of an
-- issued month included (a correction line counts as the line type it corrects)
invoice_parts as (
    select
        invoice_id,
        sum(case when coalesce(corrected_line_type, line_type) in
            ({{ line_types_of_total('credits_applied') }}) then amount else 0 end)
            as credit_amount,
        sum(case when coalesce(corrected_line_type, line_type) in
            ({{ line_types_of_total('discounts') }}) then amount else 0 end)
            as discount_amount
    from {{ ref('fct_invoice_lines') }}
    group by invoice_id
),

api_usage as (
    select * from {{ ref('int_usage_priced_daily') }}
    where not is_self_hosted
),

gpu_allocated as (
    select * from {{ ref('int_gpu_cost_allocated') }}
    where not is_idle
),

revenue as (
    select
        invoices.tenant_id,
        invoices.invoice_month as billing_month,
        invoices.invoice_id,
        invoices.currency,
        invoices.total_amount,
        invoices.total_amount - coalesce(invoice_parts.credit_amount, 0) as earned_amount,
        -coalesce(invoice_parts.discount_amount, 0) as discounts_amount,
        fx_rates.units_per_usd,
        row_number() over (
            partition by invoices.invoice_id order by fx_rates.rate_month desc
        ) as fx_rank
    from invoices
    left join invoice_parts on invoice_parts.invoice_id = invoices.invoice_id
    left join fx_rates
        on fx_rates.currency = invoices.currency
        and fx_rates.rate_month <= invoices.invoice_month
),

costs as (
    select
        tenant_id,
        cast({{ dbt.date_trunc('month', 'usage_date') }} as date) as billing_month,
        sum(coalesce(api_cost_usd, 0)) as api_cost_usd,
        0 as gpu_cost_usd,
        sum(case when is_success then 0 else coalesce(api_cost_usd, 0) end) as failed_cost_usd
    from api_usage
    group by 1, 2
    union all
    select
        tenant_id,
        cast({{ dbt.date_trunc('month', 'usage_date') }} as date) as billing_month,
        0 as api_cost_usd,
        sum(cost_usd) as gpu_cost_usd,
        sum(case when is_success then 0 else cost_usd end) as failed_cost_usd
    from gpu_allocated
    group by 1, 2
),

tenant_costs as (
    select
        tenant_id,
        billing_month,
        sum(api_cost_usd) as api_cost_usd,
        sum(gpu_cost_usd) as gpu_cost_usd,
        sum(failed_cost_usd) as failed_request_cost_usd
    from costs
    group by tenant_id, billing_month
),

joined as (
    select
        coalesce(revenue.tenant_id, tenant_costs.tenant_id) as tenant_id,
        coalesce(revenue.billing_month, tenant_costs.billing_month) as billing_month,
        revenue.invoice_id,
        revenue.currency,
        revenue.total_amount,
        -- amount / units_per_usd, exact to 1e-12 (units_per_usd has 8 decimals)
        {%- for amount, usd in [('earned_amount', 'revenue_usd'),
                                ('discounts_amount', 'discounts_usd')] %}
        case when revenue.invoice_id is null then 0 else
            {{ prorate(
                'revenue.' ~ amount, 100000000,
                'cast(revenue.units_per_usd * 100000000 as bigint)'
            ) }}
        end as {{ usd }},
        {%- endfor %}
        coalesce(tenant_costs.api_cost_usd, 0) as api_cost_usd,
        coalesce(tenant_costs.gpu_cost_usd, 0) as gpu_cost_usd,
        coalesce(tenant_costs.failed_request_cost_usd, 0) as failed_request_cost_usd
    from (select * from revenue where fx_rank = 1) as revenue
    full outer join tenant_costs
        on tenant_costs.tenant_id = revenue.tenant_id
        and tenant_costs.billing_month = revenue.billing_month
),

final as (
    select
        tenant_id,
        billing_month,
        invoice_id,
        currency,
        cast(total_amount as decimal(38, 2)) as invoice_total_amount,
        cast(revenue_usd as decimal(38, 12)) as revenue_usd,
        cast(api_cost_usd as decimal(38, 12)) as api_cost_usd,
        cast(gpu_cost_usd as decimal(38, 12)) as gpu_cost_usd,
        cast(failed_request_cost_usd as decimal(38, 12)) as failed_request_cost_usd,
        cast(api_cost_usd + gpu_cost_usd as decimal(38, 12)) as total_cost_usd,
        cast(revenue_usd - api_cost_usd - gpu_cost_usd as decimal(38, 12)) as gross_margin_usd,
        -- a ratio, not money: a DOUBLE quotient (as DuckDB divides DECIMALs; on Spark a DECIMAL
        -- quotient of these scales overflows), rounded to 6 places
        cast(case when revenue_usd > 0
            then round(
                cast(revenue_usd - api_cost_usd - gpu_cost_usd as double)
                / cast(revenue_usd as double),
                6
            )
        end as decimal(18, 6)) as margin_ratio,
        revenue_usd - api_cost_usd - gpu_cost_usd < 0 as is_loss,
        -- what made a loss, the first that holds: no invoice; GPU cost above the API cost;
        -- failed requests (not billed) costing as much as the loss; discounts and free
        -- tokens worth as much as the loss; else the plan's prices are below the cost
        case
            when revenue_usd - api_cost_usd - gpu_cost_usd >= 0 then null
            when invoice_id is null then 'not invoiced'
            when gpu_cost_usd > api_cost_usd then 'GPU cost'
            when failed_request_cost_usd >= api_cost_usd + gpu_cost_usd - revenue_usd
                then 'failed requests not billed'
            when discounts_usd >= api_cost_usd + gpu_cost_usd - revenue_usd
                then 'discounts and free tokens'
            else 'prices below cost'
        end as loss_cause
    from joined
)

select * from final
