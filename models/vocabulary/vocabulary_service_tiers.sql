{{ config(materialized='table') }}
-- grain: one row per service tier
-- The service tiers as dbt_project.yml defines them (vars.vocabulary, docs/decisions/0015).
with tiers as (
    {{ vocabulary_rows('service_tiers', [
        ['service_tier', 'string', 'name'],
        ['tier_order', 'int', '#'],
        ['catalog_suffix', 'string', 'catalog_suffix'],
        ['label', 'string', 'label'],
    ]) }}
),

final as (
    select * from tiers
)

select * from final
