{{ config(materialized='table') }}
-- grain: one row per token class
-- The billed token classes as dbt_project.yml defines them (vars.vocabulary,
-- docs/decisions/0015), so that a reader of the warehouse sees the list the models loop over.
with classes as (
    {{ vocabulary_rows('token_classes', [
        ['token_class', 'string', 'name'],
        ['class_order', 'int', '#'],
        ['direction', 'string', 'direction'],
        ['quantity_column', 'string', 'quantity_column'],
        ['price_column', 'string', 'price_column'],
        ['price_fallback', 'string', 'price_fallback'],
        ['vendor_quantity_column', 'string', 'vendor_quantity_column'],
        ['catalog_key', 'string', 'catalog_key'],
        ['focus_action', 'string', 'focus_action'],
        ['focus_unit', 'string', 'focus_unit'],
        ['focus_description', 'string', 'focus_description'],
        ['label', 'string', 'label'],
    ]) }}
),

final as (
    select * from classes
)

select * from final
