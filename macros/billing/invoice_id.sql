{#- An invoice's id: INV-YYYYMM-<tenant>, one invoice per tenant and month, stable across
    builds. The one definition; the CLI and the FOCUS export read it from the marts. -#}
{% macro invoice_id(tenant_id, invoice_month) -%}
    {{ dbt.concat([
        "'INV-'",
        "cast(extract(year from " ~ invoice_month ~ ") * 100 + extract(month from " ~ invoice_month ~ ") as " ~ dbt.type_string() ~ ")",
        "'-'",
        tenant_id,
    ]) }}
{%- endmacro %}
