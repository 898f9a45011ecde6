-- grain: one row per invoice line (InvoiceId, x_LineNumber) and region (RegionId)
-- The invoice lines as FOCUS 1.2 billing rows (docs/focus-export.md), the shape of the real
-- examples in the FOCUS specification's AI model billing data. BilledCost is the line's
-- rounded amount, so the rows of an invoice sum to its total. On usage rows ListUnitPrice is
-- the plan's price per 1M tokens in the billing currency, and ListCost its exact product with
-- PricingQuantity (unrounded); contract discounts, allowances, credits and the commitment
-- shortfall are rows of their own. A correction keeps the category of the line it corrects,
-- with ChargeClass 'Correction'. Every column FOCUS 1.2 makes Mandatory, and each Conditional
-- one whose condition holds here, is present (docs/decisions/0018): the invoice issuer is the
-- ProviderName (it sells the service, as a managed service provider does) and the provider
-- that served a usage line's model (the events' `provider`) its PublisherName. A purchase (the
-- commitment shortfall) is priced as the FOCUS examples price one: 1 per unit of currency.
-- A usage line, and a correction of one, is one row per region that served its usage
-- (docs/decisions/0026): its tokens and its rounded amount split over those regions by their
-- tokens, in whole tokens and whole minor units by largest remainder, so the rows of a line
-- add up to it exactly; the other lines are not a region's (RegionId null).
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
{%- set purchases = [] %}
{%- for type, (category, _, _) in categories.items() if category == 'Purchase' %}
{%- do purchases.append("'" ~ type ~ "'") %}
{%- endfor %}
with lines as (
    select * from {{ ref('fct_invoice_lines') }}
),

issued as (
    select invoice_id, invoice_month, issuer from {{ ref('stg_app__issued_invoices') }}
),

currencies as (
    select * from {{ ref('currencies') }}
),

-- the billable tokens of each usage line's key by region, in the month the usage was in
regions as (
    select * from {{ ref('int_invoice_usage_regions') }}
),

-- the provider that served most of a tenant's requests of a model (ties: by name)
served as (
    select
        tenant_id,
        model_id,
        coalesce(provider, 'unknown') as provider,
        sum(request_count) as request_count
    from {{ ref('int_usage_priced_daily') }}
    where model_id is not null
    group by tenant_id, model_id, coalesce(provider, 'unknown')
),

publishers as (
    select tenant_id, model_id, provider
    from (
        select
            *,
            row_number() over (
                partition by tenant_id, model_id order by request_count desc, provider
            ) as provider_rank
        from served
    ) as ranked
    where provider_rank = 1
),

described as (
    select
        lines.*,
        coalesce(lines.corrected_line_type, lines.line_type) as charge_line_type,
        coalesce(lines.corrected_line_type, lines.line_type) in ({{ purchases | join(', ') }})
            as is_purchase,
        issued.issuer,
        publishers.provider as publisher,
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
        case coalesce(lines.corrected_line_type, lines.line_type)
            {%- for type, (_, _, text) in categories.items() %}
            when '{{ type }}' then '{{ text }}'
            {%- endfor %}
        end as charge_text,
        coalesce(corrected.invoice_month, lines.invoice_month) as usage_month,
        currencies.minor_unit,
        cast(lines.amount * case when currencies.minor_unit = 0 then 1 else 100 end
            as decimal(38, 0)) as minor_units
    from lines
    left join issued on issued.invoice_id = lines.invoice_id
    left join issued as corrected on corrected.invoice_id = lines.corrects_invoice_id
    left join currencies on currencies.currency = lines.currency
    left join publishers
        on publishers.tenant_id = lines.tenant_id and publishers.model_id = lines.model_id
),

-- a usage line (or a correction of one) once per region of its key's usage; a line without
-- such usage (every other line, or one whose usage is held since) once, region null
in_regions as (
    select
        described.*,
        regions.region,
        coalesce(regions.quantity_tokens, 1) as region_weight,
        cast(coalesce(described.quantity_tokens, 0) as decimal(38, 0)) as line_tokens
    from described
    left join regions
        on described.charge_line_type = 'usage'
        and regions.tenant_id = described.tenant_id
        and regions.invoice_month = described.usage_month
        and regions.model_id = described.model_id
        and regions.token_class = described.token_class
        and regions.unit_price_per_1m_tokens = described.unit_price_per_1m_tokens
),

tokens_split as (
    {{ allocate_whole_units('in_regions', 'line_tokens', 'region_weight',
                            'invoice_id, line_number', 'region asc nulls last', 'region_tokens') }}
),

split as (
    select
        amounts_split.*,
        case when amounts_split.quantity_tokens is not null then amounts_split.region_tokens end
            as region_quantity_tokens,
        amounts_split.region_minor_units
        * case when amounts_split.minor_unit = 0 then cast(1 as decimal(3, 2))
            else cast(0.01 as decimal(3, 2)) end as region_amount
    from (
        {{ allocate_whole_units('tokens_split', 'minor_units', 'region_weight',
                                'invoice_id, line_number', 'region asc nulls last',
                                'region_minor_units') }}
    ) as amounts_split
),

priced as (
    select
        *,
        {{ amount_for_tokens('region_quantity_tokens', 'unit_price_per_1m_tokens') }}
            as list_cost
    from split
),

final as (
    select
        cast(region_amount as decimal(38, 2)) as BilledCost,
        tenant_id as BillingAccountId,
        tenant_id as BillingAccountName,
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
                    || coalesce(token_text || ' for ' || model_id, charge_text)
            when line_type = 'usage' then token_text || ' for ' || model_id
            else charge_text || coalesce(' ' || credit_grant_id, '')
                || coalesce(' from ' || cast(tier_from_tokens as string) || ' tokens', '')
        end as ChargeDescription,
        case charge_line_type
            {%- for type, (_, frequency, _) in categories.items() %}
            when '{{ type }}' then '{{ frequency }}'
            {%- endfor %}
        end as ChargeFrequency,
        cast({{ dbt.dateadd('month', 1, 'invoice_month') }} as timestamp) as ChargePeriodEnd,
        cast(invoice_month as timestamp) as ChargePeriodStart,
        cast(region_quantity_tokens as decimal(38, 0)) as ConsumedQuantity,
        case when region_quantity_tokens is not null then 'Tokens' end as ConsumedUnit,
        coalesce(cast(list_cost as decimal(38, 18)), cast(region_amount as decimal(38, 18)))
            as ContractedCost,
        case
            when is_purchase then cast(1 as decimal(38, 12))
            else cast(unit_price_per_1m_tokens as decimal(38, 12))
        end as ContractedUnitPrice,
        cast(region_amount as decimal(38, 2)) as EffectiveCost,
        issuer as InvoiceIssuerName,
        invoice_id as InvoiceId,
        coalesce(cast(list_cost as decimal(38, 18)), cast(region_amount as decimal(38, 18)))
            as ListCost,
        case
            when is_purchase then cast(1 as decimal(38, 12))
            else cast(unit_price_per_1m_tokens as decimal(38, 12))
        end as ListUnitPrice,
        case when region_quantity_tokens is not null or is_purchase then 'Standard' end
            as PricingCategory,
        -- the price book and the rate cards price in USD; invoices bill the contract's currency
        'USD' as PricingCurrency,
        case
            when is_purchase then cast(region_amount as decimal(38, 6))
            else cast(region_quantity_tokens * cast(0.000001 as decimal(7, 6)) as decimal(38, 6))
        end as PricingQuantity,
        case
            when is_purchase then currency
            when region_quantity_tokens is not null then '1000000 Tokens'
        end as PricingUnit,
        issuer as ProviderName,
        case when model_id is not null then coalesce(publisher, 'unknown') else issuer end
            as PublisherName,
        region as RegionId,
        -- regions have no display name of their own here: the id, as the events spell it
        region as RegionName,
        'AI and Machine Learning' as ServiceCategory,
        '{{ var("focus_service_name", "LLM API") }}' as ServiceName,
        'Generative AI' as ServiceSubcategory,
        case
            when model_id is not null then model_id || '-' || token_class
            when is_purchase then charge_line_type
        end as SkuId,
        case
            when model_id is not null then sku_meter
            when is_purchase then charge_text
        end as SkuMeter,
        case when model_id is not null then
            '{"ModelId":' || {{ json_string('model_id') }}
            || coalesce(',"TokenCacheAction":"' || token_cache_action || '"', '')
            || ',"TokenDirection":"' || token_direction || '"}'
        end as SkuPriceDetails,
        -- the rate cards price a model's token class (or a purchase): one SKU price per SKU
        case
            when model_id is not null then model_id || '-' || token_class
            when is_purchase then charge_line_type
        end as SkuPriceId,
        tenant_id as SubAccountId,
        tenant_id as SubAccountName,
        line_number as x_LineNumber
    from priced
)

select * from final
