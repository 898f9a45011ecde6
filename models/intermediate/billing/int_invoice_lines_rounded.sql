-- The invoice lines before prepaid credits: usage lines, then the monthly adjustments, each
-- rounded once to the currency's minor unit, half away from zero (docs/decisions/0005).
-- The commitment shortfall line is the commitment minus the sum of the other rounded lines,
-- so an invoice below its commitment totals exactly the commitment. line_type_order and the
-- descriptive columns give fct_invoice_lines its line numbers.
with usage_lines as (
    select * from {{ ref('int_invoice_usage_lines') }}
),

adjustments as (
    select * from {{ ref('int_invoice_adjustments') }}
),

currencies as (
    select * from {{ ref('currencies') }}
),

contracts as (
    select * from {{ ref('int_tenant_contracts_monthly') }}
),

unioned as (
    select
        tenant_id, invoice_month, currency, 'usage' as line_type,
        {{ line_type_order('usage') }} as line_type_order,
        model_id, token_class, quantity_tokens, unit_price_per_1m_tokens,
        cast(null as bigint) as tier_from_tokens, unrounded_amount
    from usage_lines
    union all
    select
        tenant_id, invoice_month, currency, line_type,
        {{ line_type_order_of('line_type') }},
        cast(null as string), cast(null as string), cast(null as bigint),
        cast(null as decimal(38, 12)), tier_from_tokens, unrounded_amount
    from adjustments
),

rounded as (
    select
        unioned.* except (unrounded_amount),
        {{ round_money('unioned.unrounded_amount', 'currencies.minor_unit') }} as amount
    from unioned
    left join currencies on currencies.currency = unioned.currency
),

shortfalls as (
    select
        rounded.tenant_id, rounded.invoice_month, rounded.currency,
        'commitment_shortfall' as line_type,
        {{ line_type_order('commitment_shortfall') }} as line_type_order,
        cast(null as string) as model_id, cast(null as string) as token_class,
        cast(null as bigint) as quantity_tokens,
        cast(null as decimal(38, 12)) as unit_price_per_1m_tokens,
        cast(null as bigint) as tier_from_tokens,
        cast(
            max(contracts.monthly_commitment_amount) - sum(rounded.amount) as decimal(38, 2)
        ) as amount
    from rounded
    inner join contracts using (tenant_id, invoice_month)
    group by rounded.tenant_id, rounded.invoice_month, rounded.currency
    having max(contracts.monthly_commitment_amount) > sum(rounded.amount)
),

final as (
    select * from rounded
    union all
    select * from shortfalls
)

select * from final
