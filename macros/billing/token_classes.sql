{#- The five billed token classes, as (class, quantity column, list price column) of the
    priced events and daily usage: the one list that usage lines, sell prices and the request
    trace unpivot by. -#}
{% macro token_classes() -%}
    {{ return([
        ('input', 'uncached_input_tokens', 'input_usd_per_1m_tokens'),
        ('cache_read', 'cache_read_tokens', 'cache_read_usd_per_1m_tokens'),
        ('cache_write', 'cache_write_tokens', 'cache_write_usd_per_1m_tokens'),
        ('reasoning', 'reasoning_tokens', 'reasoning_usd_per_1m_tokens'),
        ('output', 'non_reasoning_output_tokens', 'output_usd_per_1m_tokens'),
    ]) }}
{%- endmacro %}

{#- Unpivot `relation` (daily usage or priced events) into one row per token class with
    tokens: `columns` are kept, plus token_class, quantity_tokens, list_usd_per_1m_tokens and
    invoice_month (the UTC month of usage_date). -#}
{% macro by_token_class(relation, columns) -%}
    {%- for token_class, quantity, price in token_classes() %}
    select
        {% for column in columns %}{{ column }}, {% endfor %}
        cast({{ dbt.date_trunc('month', 'usage_date') }} as date) as invoice_month,
        '{{ token_class }}' as token_class,
        {{ quantity }} as quantity_tokens,
        {{ price }} as list_usd_per_1m_tokens
    from {{ relation }}
    where {{ quantity }} > 0
    {{ "union all" if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- The join condition of usage (by_token_class rows) to its sell price (int_sell_prices): the
    one definition of what decides a sell price. -#}
{% macro matches_sell_price(prices, usage) -%}
    {%- for column in ['tenant_id', 'invoice_month', 'model_id', 'is_success', 'token_class', 'list_usd_per_1m_tokens'] %}
    {{ "and " if not loop.first }}{{ prices }}.{{ column }} = {{ usage }}.{{ column }}
    {%- endfor %}
{%- endmacro %}
