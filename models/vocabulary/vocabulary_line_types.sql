{{ config(materialized='table') }}
-- grain: one row per invoice line type
-- The invoice line types, their order on an invoice and the total each adds to, as
-- dbt_project.yml defines them (vars.vocabulary, docs/decisions/0015).
with line_types as (
    {{ vocabulary_rows('line_types', [
        ['line_type', 'string', 'name'],
        ['line_type_order', 'int', 'order'],
        ['total', 'string', 'total'],
        ['focus_category', 'string', 'focus_category'],
        ['focus_frequency', 'string', 'focus_frequency'],
        ['label', 'string', 'label'],
    ]) }}
),

final as (
    select * from line_types
)

select * from final
