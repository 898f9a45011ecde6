-- One row per model, service tier, context tier and validity interval, with the price of
-- every token class in force during the interval (an override wins over the list price).
with price_rows as (
    select * from {{ ref('int_price_rows_unioned') }}
),

points as (
    select model_id, service_tier, min_context_tokens, effective_from as valid_from
    from price_rows
    union
    select model_id, service_tier, min_context_tokens, effective_to
    from price_rows
    where effective_to is not null
),

versions as (
    select
        *,
        lead(valid_from) over (
            partition by model_id, service_tier, min_context_tokens order by valid_from
        ) as valid_to
    from points
),

covering as (
    select
        versions.model_id,
        versions.service_tier,
        versions.min_context_tokens,
        versions.valid_from,
        versions.valid_to,
        price_rows.token_class,
        price_rows.price_source,
        price_rows.usd_per_1m_tokens
    from versions
    inner join price_rows
        on price_rows.model_id = versions.model_id
        and price_rows.service_tier = versions.service_tier
        and price_rows.min_context_tokens = versions.min_context_tokens
        and price_rows.effective_from <= versions.valid_from
        and (price_rows.effective_to is null or price_rows.effective_to > versions.valid_from)
),

final as (
    select
        model_id,
        service_tier,
        min_context_tokens,
        valid_from,
        valid_to,
        {%- for c in price_classes() %}
        coalesce(
            max(case when token_class = '{{ c.name }}' and price_source = 'override'
                then usd_per_1m_tokens end),
            max(case when token_class = '{{ c.name }}' and price_source <> 'override'
                then usd_per_1m_tokens end)
        ) as {{ c.price_column }},
        {%- endfor %}
        max(case when price_source = 'override' then 1 else 0 end) = 1 as has_override
    from covering
    group by model_id, service_tier, min_context_tokens, valid_from, valid_to
)

select * from final
