{#- Unlike dbt_utils.expression_is_true, a row whose expression is null fails
    (docs/decisions/0017). -#}
{% test expression_is_true_not_null(model, expression) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)  -- unknown (null) is not true
{% endtest %}
