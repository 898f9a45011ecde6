{#- The billing vocabulary: token classes, service tiers and invoice line types, defined once
    in dbt_project.yml (vars.vocabulary, docs/decisions/0015) and read here at compile time,
    so that models loop over it instead of naming each class, tier or line type. -#}
{% macro vocabulary(part) -%}
    {%- set parts = var('vocabulary') -%}
    {%- if part not in parts -%}
    {{ exceptions.raise_compiler_error("vocabulary: no part '" ~ part ~ "' in vars.vocabulary") }}
    {%- endif -%}
    {{ return(parts[part]) }}
{%- endmacro %}

{#- The billed token classes in vocabulary order (the order of usage lines and of the
    per-class token columns): dicts with name, direction, quantity_column, price_column,
    price_fallback, ... -#}
{% macro token_classes() -%}
    {{ return(vocabulary('token_classes')) }}
{%- endmacro %}

{#- The token classes in the order of the per-class price columns: the classes priced in
    their own right (no price_fallback) first, then those that can fall back to another. -#}
{% macro price_classes() -%}
    {{ return(token_classes() | rejectattr('price_fallback') | list
        + token_classes() | selectattr('price_fallback') | list) }}
{%- endmacro %}

{#- The place of a line type on an invoice (its `order` in the vocabulary), as a literal. -#}
{% macro line_type_order(line_type) -%}
    {%- for type in vocabulary('line_types') if type.name == line_type -%}
    {{ return(type.order) }}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error(
        "line_type_order: no line type '" ~ line_type ~ "' in vars.vocabulary") }}
{%- endmacro %}

{#- The line types that add to one invoice total (`total` in the vocabulary), quoted, for an
    `in (...)` list. -#}
{% macro line_types_of_total(total) -%}
    {%- set names = [] -%}
    {%- for type in vocabulary('line_types') if type.total == total -%}
    {%- do names.append("'" ~ type.name ~ "'") -%}
    {%- endfor -%}
    {{ return(names | join(', ')) }}
{%- endmacro %}

{#- One part of the vocabulary as rows, in vocabulary order: `columns` is a list of [column,
    SQL type, key] triples (key: the item's field, '#' for its 1-based place in the list); a
    missing or none value is a typed null. The vocabulary_* models are this. -#}
{% macro vocabulary_rows(part, columns) -%}
    {%- for item in vocabulary(part) %}
    {%- set place = loop.index %}
    select
        {%- for name, type, key in columns %}
        {%- set value = place if key == '#' else item.get(key) %}
        cast({{ 'null' if value is none else ("'" ~ value | replace("'", "''") ~ "'" if value is string else value) }} as {{ type }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    {{ "union all" if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- Unpivot `relation` (daily usage or priced events) into one row per token class with
    tokens: `columns` are kept, plus token_class, quantity_tokens, list_usd_per_1m_tokens and
    invoice_month (the UTC month of usage_date). -#}
{% macro by_token_class(relation, columns) -%}
    {%- for token_class in token_classes() %}
    select
        {% for column in columns %}{{ column }}, {% endfor %}
        cast({{ dbt.date_trunc('month', 'usage_date') }} as date) as invoice_month,
        '{{ token_class.name }}' as token_class,
        {{ token_class.quantity_column }} as quantity_tokens,
        {{ token_class.price_column }} as list_usd_per_1m_tokens
    from {{ relation }}
    where {{ token_class.quantity_column }} > 0
    {{ "union all" if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- The join condition of usage (by_token_class rows) to its sell price (int_sell_prices): the
    one definition of what decides a sell price. -#}
{% macro matches_sell_price(prices, usage) -%}
    {%- set columns = ['tenant_id', 'invoice_month', 'model_id', 'is_success',
        'is_served_from_cache', 'token_class', 'list_usd_per_1m_tokens'] %}
    {%- for column in columns %}
    {{ "and " if not loop.first }}{{ prices }}.{{ column }} = {{ usage }}.{{ column }}
    {%- endfor %}
{%- endmacro %}

{#- The price of token class `c` (a token_classes() item) in `relation`, after its fallbacks:
    its own price column, else its price_fallback class's, else that class's fallback, and so
    on to a class priced in its own right (cache_write_1h -> cache_write -> input). -#}
{% macro price_with_fallbacks(relation, c) -%}
    {%- set columns = [relation ~ '.' ~ c.price_column] -%}
    {%- set ns = namespace(name=c.price_fallback) -%}
    {%- for _ in token_classes() if ns.name -%}
    {%- for f in token_classes() if f.name == ns.name -%}
    {%- do columns.append(relation ~ '.' ~ f.price_column) -%}
    {%- set ns.name = f.price_fallback -%}
    {%- endfor -%}
    {%- endfor -%}
    {%- if ns.name -%}
    {{ exceptions.raise_compiler_error("price_with_fallbacks: the fallbacks of token class '"
        ~ c.name ~ "' do not end at a class priced in its own right") }}
    {%- endif -%}
    {{ return('coalesce(' ~ columns | join(', ') ~ ')' if columns | length > 1 else columns[0]) }}
{%- endmacro %}

{#- True when a row has a price for every class without a fallback (input and output): the
    condition of a priced event. -#}
{% macro has_required_prices() -%}
    {%- for c in price_classes() | rejectattr('price_fallback') -%}
    {{ " and " if not loop.first }}{{ c.price_column }} is not null
    {%- endfor -%}
{%- endmacro %}

{#- The place on an invoice of the line type in `column`, from the vocabulary. -#}
{% macro line_type_order_of(column) -%}
    case {{ column }}
        {%- for type in vocabulary('line_types') %}
        when '{{ type.name }}' then {{ type.order }}
        {%- endfor %}
    end
{%- endmacro %}
