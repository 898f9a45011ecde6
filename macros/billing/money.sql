{#- Money is rounded once, on invoice lines, half away from zero, to the currency's minor
    unit (docs/decisions/0005). `minor_unit` is a column: 0 or 2 (the currencies seed). -#}
{% macro round_money(amount, minor_unit) -%}
    case
        when {{ minor_unit }} = 0 then cast(round({{ amount }}, 0) as decimal(38, 2))
        else cast(round({{ amount }}, 2) as decimal(38, 2))
    end
{%- endmacro %}

{#- amount * part / whole, exact to 1e-12, without a DECIMAL division (DuckDB turns one into a
    DOUBLE): scaled integer arithmetic, truncated toward zero. `part` and `whole` are token
    counts; whole > 0. -#}
{% macro prorate(amount, part, whole) -%}
    (cast((cast(cast({{ amount }} as decimal(38, 12)) * 1000000000000 as hugeint) * {{ part }}) // {{ whole }} as decimal(38, 0)) * cast(0.000000000001 as decimal(13, 12)))
{%- endmacro %}

{#- Amount for `tokens` at a price per 1M tokens, exact: multiplying by 0.000001 keeps a
    DECIMAL (dividing would give a DOUBLE on DuckDB). Unrounded: money is rounded once, on
    invoice lines. -#}
{% macro amount_for_tokens(tokens, price_per_1m_tokens) -%}
    (cast({{ tokens }} as decimal(38, 0)) * {{ price_per_1m_tokens }} * cast(0.000001 as decimal(7, 6)))
{%- endmacro %}
