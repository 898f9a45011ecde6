{#- The few places where DuckDB and Spark SQL differ, each behind one adapter.dispatch macro
    (docs/scale-out.md). `default__` is the DuckDB form; `spark__` is Spark SQL. -#}

{#- True where `value` contains a match of the regular expression `pattern` (a SQL string
    literal without backslashes: Spark reads a backslash in a literal as an escape). -#}
{% macro regex_matches(value, pattern) -%}
    {{ return(adapter.dispatch('regex_matches', 'meterhouse')(value, pattern)) }}
{%- endmacro %}

{% macro default__regex_matches(value, pattern) -%}
    regexp_matches({{ value }}, {{ pattern }})
{%- endmacro %}

{% macro spark__regex_matches(value, pattern) -%}
    ({{ value }} rlike {{ pattern }})
{%- endmacro %}

{#- A string as a JSON string literal, quotes and escapes included. -#}
{% macro json_string(value) -%}
    {{ return(adapter.dispatch('json_string', 'meterhouse')(value)) }}
{%- endmacro %}

{% macro default__json_string(value) -%}
    cast(to_json(cast({{ value }} as string)) as string)
{%- endmacro %}

{% macro spark__json_string(value) -%}
    {#- Spark's to_json takes only structs, maps and arrays: encode a one-element array, strip
        its brackets. -#}
    regexp_extract(to_json(array(cast({{ value }} as string))), '^.(.*).$', 1)
{%- endmacro %}

{#- floor(`n` / `d`) for non-negative whole DECIMALs, exact: Spark's DECIMAL division rounds
    its quotient (half up) to the result's scale, which can carry a quotient just below a whole
    number up to it; one multiplication puts it back. -#}
{% macro spark__floor_div(n, d) -%}
    (floor({{ n }} / {{ d }}) - case when floor({{ n }} / {{ d }}) * {{ d }} > {{ n }} then 1 else 0 end)
{%- endmacro %}

{#- dbt.dateadd on Spark (overrides dbt-spark's, which round-trips through unix seconds and
    gives NULL for the zone-less timestamps this project uses, docs/decisions/0002). Every call
    in the project adds days or months to a DATE: date_add and add_months do that exactly. -#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    {%- if datepart in ['day', 'week'] -%}
    date_add(cast({{ from_date_or_timestamp }} as date), cast({{ interval }} * {{ 7 if datepart == 'week' else 1 }} as int))
    {%- elif datepart in ['month', 'quarter', 'year'] -%}
    add_months(cast({{ from_date_or_timestamp }} as date), cast({{ interval }} * {{ {'month': 1, 'quarter': 3, 'year': 12}[datepart] }} as int))
    {%- else -%}
    {{ exceptions.raise_compiler_error(
        "dateadd on Spark: only day, week, month, quarter and year on a date, not " ~ datepart
    ) }}
    {%- endif -%}
{%- endmacro %}
