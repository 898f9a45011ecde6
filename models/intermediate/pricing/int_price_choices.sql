-- One row per model, service tier an event can have, side of the context threshold and
-- validity interval: the price of every token class after the tier and context fallbacks,
-- so that rating an event takes a single join. Choice per class (docs/pricing.md): the
-- event's tier above the threshold, its tier at base context, standard above, standard base.
{%- set picks = ['above_tier', 'base_tier', 'above_standard', 'base_standard'] %}
with versions as (
    select * from {{ ref('int_price_versions_pivoted') }}
),

points as (
    select model_id, valid_from from versions
    union
    select model_id, valid_to from versions where valid_to is not null
),

intervals as (
    select
        model_id,
        valid_from,
        lead(valid_from) over (partition by model_id order by valid_from) as valid_to
    from points
),

thresholds as (
    select model_id, max(min_context_tokens) as context_threshold_tokens
    from versions
    group by model_id
),

tiers as (
    {%- for tier in vocabulary('service_tiers') %}
    select '{{ tier.name }}' as service_tier{{ " union all" if not loop.last }}
    {%- endfor %}
),

sides as (
    select false as is_above_context union all select true
),

slots as (
    select
        intervals.model_id,
        tiers.service_tier,
        sides.is_above_context,
        thresholds.context_threshold_tokens,
        intervals.valid_from,
        intervals.valid_to
    from intervals
    inner join thresholds on thresholds.model_id = intervals.model_id
    cross join tiers
    cross join sides
    where not sides.is_above_context or thresholds.context_threshold_tokens > 0
),

priced as (
    select
        slots.*,
        {%- for c in price_classes() %}
        coalesce(
            {%- for p in picks %}
            {{ p }}.{{ c.price_column }}{{ "," if not loop.last }}
            {%- endfor %}
        ) as {{ c.price_column }},
        {%- endfor %}
        coalesce(base_tier.has_override, base_standard.has_override, false) as has_override
    from slots
    {%- for p in picks %}
    left join versions as {{ p }}
        on {{ p }}.model_id = slots.model_id
        and {{ p }}.service_tier
        = {{ "slots.service_tier" if p.endswith("tier") else "'standard'" }}
        and {{ p }}.min_context_tokens
        = {{ "slots.context_threshold_tokens" if p.startswith("above") else "0" }}
        {%- if p.startswith("above") %}
        and slots.is_above_context
        {%- endif %}
        and {{ p }}.valid_from <= slots.valid_from
        and ({{ p }}.valid_to is null or {{ p }}.valid_to > slots.valid_from)
    {%- endfor %}
),

final as (
    select * from priced
    where
        {%- for c in price_classes() | rejectattr('price_fallback') %}
        {{ "or " if not loop.first }}{{ c.price_column }} is not null
        {%- endfor %}
)

select * from final
