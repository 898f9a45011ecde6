-- One row per model name seen in the stored events (held ones included, so a hold or a
-- release changes no other event's resolution): the price-book model it resolves to and the
-- rule that matched (null model_id: unresolved, so its usage is unpriced, never $0), and the
-- provider the catalog lists for that model (int_model_providers).
{%- set rules = ['case', 'provider_prefix', 'region_prefix', 'version_suffix', 'date_suffix'] %}
{%- set first_party = 'openai|anthropic|gemini|mistral|deepseek|xai|cohere|groq' %}
with names as (
    select distinct model_name from {{ ref('stg_meterhouse__usage_events_stored') }}
),

models as (
    select distinct model_id from {{ ref('int_price_rows_unioned') }}
),

aliases as (
    select * from {{ ref('model_aliases') }}
),

providers as (
    select * from {{ ref('int_model_providers') }}
),

candidates as (
    select names.model_name, models.model_id, 1 as rule_rank, 'exact' as resolution_rule
    from names
    inner join models on names.model_name = models.model_id
    union all
    select names.model_name, aliases.model_id, 2, 'alias'
    from names
    inner join aliases on names.model_name = aliases.raw_model
    {%- for rule in rules %}
    union all
    select names.model_name, models.model_id, {{ loop.index + 2 }}, '{{ rule }}'
    from names
    inner join models
        on
            {{ model_name_key('names.model_name', rule) }}
            = {{ model_name_key('models.model_id', rule) }}
    {%- endfor %}
),

ranked as (
    select
        *,
        row_number() over (
            partition by model_name
            order by
                rule_rank,
                -- on a tie: a name without a provider prefix, then a first-party provider's
                -- own listing, before resellers (azure/, bedrock/, openrouter/...)
                case
                    when model_id not like '%/%' then 0
                    when {{ regex_matches('lower(model_id)', "'^(" ~ first_party ~ ")/'") }} then 1
                    else 2
                end,
                length(model_id),
                model_id
        ) as preference
    from candidates
),

final as (
    select
        names.model_name,
        ranked.model_id,
        ranked.resolution_rule,
        providers.provider as model_provider
    from names
    left join ranked
        on ranked.model_name = names.model_name
        and ranked.preference = 1
    left join providers on providers.model_id = ranked.model_id
)

select * from final
