{#- The columns of an invoice line, in one order and with one type each, so that lines from
    different steps stack with a plain `union all` on every engine (DuckDB's `union all by
    name` has no Spark form). Columns named in `missing` come out as typed nulls; `extra`
    (a list of [name, SQL] pairs) are appended in order. -#}
{% macro invoice_line_columns(missing=[], extra=[]) -%}
{%- set columns = {
    'tenant_id': 'string', 'invoice_month': 'date', 'currency': 'string',
    'line_type': 'string', 'line_type_order': 'int', 'model_id': 'string',
    'token_class': 'string', 'quantity_tokens': 'bigint',
    'unit_price_per_1m_tokens': 'decimal(38, 12)', 'tier_from_tokens': 'bigint',
    'credit_grant_id': 'string', 'corrects_invoice_id': 'string',
    'corrected_line_type': 'string', 'amount': 'decimal(38, 2)'} -%}
{%- set selected = [] -%}
{%- for name, type in columns.items() -%}
    {%- set value = 'null' if name in missing else name -%}
    {%- do selected.append('cast(' ~ value ~ ' as ' ~ type ~ ') as ' ~ name) -%}
{%- endfor -%}
{%- for name, sql in extra -%}
    {%- do selected.append(sql ~ ' as ' ~ name) -%}
{%- endfor -%}
{{ selected | join(',\n    ') }}
{%- endmacro %}
