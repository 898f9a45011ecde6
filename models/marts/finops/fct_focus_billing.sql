-- grain: one row per invoice line (InvoiceId, x_LineNumber)
-- The invoice lines as FOCUS 1.2 billing rows (docs/focus-export.md), the shape of the real
-- examples in the FOCUS specification's AI model billing data. BilledCost is the line's
-- rounded amount, so the rows of an invoice sum to its total. On usage rows ListUnitPrice is
-- the plan's price per 1M tokens in the billing currency, and ListCost its exact product with
-- PricingQuantity (unrounded); contract discounts, allowances, credits and the commitment
-- shortfall are rows of their own. A correction keeps the category of the line it corrects,
-- with ChargeClass 'Correction'.
{#- FOCUS names of each token class and line type, from the vocabulary (dbt_project.yml):
    (TokenDirection, TokenCacheAction, SkuMeter, description) and (ChargeCategory,
    ChargeFrequency, description). -#}
{%- set directions = {} %}
{%- for c in token_classes() %}
{%- do directions.update({c.name: (
    c.direction | capitalize, c.focus_action, c.focus_unit, c.focus_description)}) %}
{%- endfor %}
{%- set categories = {} %}
{%- for t in vocabulary('line_types') if t.focus_category %}
{%- do categories.update({t.name: (t.focus_category, t.focus_frequency, t.label)}) %}
{%- endfor %}
with lines as (
    select * from {{ ref('fct_invoice_lines') }}
),

issued as (
    select invoice_id, issuer from {{ ref('stg_app__issued_invoices') }}
),

described as (
    select
        lines.*,
        coalesce(lines.corrected_line_type, lines.line_type) as charge_line_type,
        issued.issuer,
        case lines.token_class
            {%- for class, (direction, _, _, _) in directions.items() %}
            when '{{ class }}' then '{{ direction }}'
            {%- endfor %}
        end as token_direction,
        case lines.token_class
            {%- for class, (_, cache, _, _) in directions.items() if cache %}
            when '{{ class }}' then '{{ cache }}'
            {%- endfor %}
        end as token_cache_action,
        case lines.token_class
            {%- for class, (_, _, meter, _) in directions.items() %}
            when '{{ class }}' then '{{ meter }}'
            {%- endfor %}
        end as sku_meter,
        case lines.token_class
            {%- for class, (_, _, _, text) in directions.items() %}
            when '{{ class }}' then '{{ text }}'
            {%- endfor %}
        end as token_text,
        {{ amount_for_tokens('lines.quantity_tokens', 'lines.unit_price_per_1m_tokens') }}
            as list_cost
    from lines
    left join issued on issued.invoice_id = lines.invoice_id
),

final as (
    select
        cast(amount as decimal(38, 2)) as BilledCost,
        tenant_id as BillingAccountId,
        currency as BillingCurrency,
        cast({{ dbt.dateadd('month', 1, 'invoice_month') }} as timestamp) as BillingPeriodEnd,
        cast(invoice_month as timestamp) as BillingPeriodStart,
        case charge_line_type
            {%- for type, (category, _, _) in categories.items() %}
            when '{{ type }}' then '{{ category }}'
            {%- endfor %}
        end as ChargeCategory,
        case when line_type = 'correction' then 'Correction' end as ChargeClass,
        case
            when line_type = 'correction'
                then 'Correction of ' || corrects_invoice_id || ': '
                    || coalesce(token_text || ' for ' || model_id, case charge_line_type
                        {%- for type, (_, _, text) in categories.items() %}
                        when '{{ type }}' then '{{ text }}'
                        {%- endfor %}
                    end)
            when line_type = 'usage' then token_text || ' for ' || model_id
            else case charge_line_type
                {%- for type, (_, _, text) in categories.items() %}
                when '{{ type }}' then '{{ text }}'
                {%- endfor %}
            end || coalesce(' ' || credit_grant_id, '')
                || coalesce(' from ' || cast(tier_from_tokens as string) || ' tokens', '')
        end as ChargeDescription,
        case charge_line_type
            {%- for type, (_, frequency, _) in categories.items() %}
            when '{{ type }}' then '{{ frequency }}'
            {%- endfor %}
        end as ChargeFrequency,
        cast({{ dbt.dateadd('month', 1, 'invoice_month') }} as timestamp) as ChargePeriodEnd,
        cast(invoice_month as timestamp) as ChargePeriodStart,
        cast(quantity_tokens as bigint) as ConsumedQuantity,
        case when quantity_tokens is not null then 'Tokens' end as ConsumedUnit,
        coalesce(cast(list_cost as decimal(38, 18)), cast(amount as decimal(38, 18)))
            as ContractedCost,
        cast(unit_price_per_1m_tokens as decimal(38, 12)) as ContractedUnitPrice,
        cast(amount as decimal(38, 2)) as EffectiveCost,
        issuer as InvoiceIssuerName,
        invoice_id as InvoiceId,
        coalesce(cast(list_cost as decimal(38, 18)), cast(amount as decimal(38, 18))) as ListCost,
        cast(unit_price_per_1m_tokens as decimal(38, 12)) as ListUnitPrice,
        case when quantity_tokens is not null then 'Standard' end as PricingCategory,
        cast(quantity_tokens * cast(0.000001 as decimal(7, 6)) as decimal(38, 6))
            as PricingQuantity,
        case when quantity_tokens is not null then '1000000 Tokens' end as PricingUnit,
        'AI and Machine Learning' as ServiceCategory,
        '{{ var("focus_service_name", "LLM API") }}' as ServiceName,
        issuer as ServiceProviderName,
        'Generative AI' as ServiceSubcategory,
        case when model_id is not null then model_id || '-' || token_class end as SkuId,
        sku_meter as SkuMeter,
        case when model_id is not null then
            '{"ModelId":' || {{ json_string('model_id') }}
            || coalesce(',"TokenCacheAction":"' || token_cache_action || '"', '')
            || ',"TokenDirection":"' || token_direction || '"}'
        end as SkuPriceDetails,
        tenant_id as SubAccountId,
        line_number as x_LineNumber
    from described
)

select * from final
