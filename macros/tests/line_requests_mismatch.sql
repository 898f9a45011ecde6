{#- Invoice lines matching `where` whose quantity differs from the tokens of the requests
    fct_invoice_line_requests traces them to. -#}
{% macro line_requests_mismatch(where) -%}
with traced as (
    select invoice_id, line_number, sum(quantity_tokens) as traced_tokens
    from {{ ref('fct_invoice_line_requests') }}
    group by invoice_id, line_number
)

select lines.invoice_id, lines.line_number, lines.quantity_tokens, traced.traced_tokens
from {{ ref('fct_invoice_lines') }} as lines
left join traced using (invoice_id, line_number)
where {{ where }}
    and lines.quantity_tokens is distinct from coalesce(traced.traced_tokens, 0)
{%- endmacro %}
