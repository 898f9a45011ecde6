-- grain: one row per model_name
-- Every model name seen in the stored events and the price-book model it resolves to, with
-- the rule that matched (int_model_names_resolved; a null model_id is unresolved, so its usage
-- is unpriced), and the provider the catalog lists for that model. `meterhouse reconcile`
-- matches a vendor bill's model names with it.
with resolved as (
    select * from {{ ref('int_model_names_resolved') }}
),

final as (
    select
        model_name,
        model_id,
        resolution_rule,
        model_provider
    from resolved
)

select * from final
