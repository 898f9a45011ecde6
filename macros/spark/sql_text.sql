{#- Values the project does not write itself (paths from $METERHOUSE_SPARK_DIR, names), spelled
    as Spark SQL text: every such value in a Spark statement goes through one of these two, as
    warehouse/sql_text.py does on DuckDB. -#}

{#- A string literal. Spark reads a backslash in a string literal as an escape (unless
    spark.sql.parser.escapedStringLiterals is true): each backslash and each single quote is
    escaped with a backslash. Under escapedStringLiterals = true nothing is an escape, so a value
    holding either cannot be written: refused, after asking the session (only then). -#}
{% macro spark_string(value) -%}
    {%- set text = value | string -%}
    {%- if execute and ('\\' in text or "'" in text) -%}
        {%- set mode = run_query('set spark.sql.parser.escapedStringLiterals') -%}
        {%- if mode.rows | length == 1 and (mode.rows[0][1] | string | lower) == 'true' -%}
            {{ exceptions.raise_compiler_error(
                "spark_string: " ~ text ~ " holds a backslash or a single quote, which a Spark "
                ~ "string literal cannot hold when spark.sql.parser.escapedStringLiterals is true") }}
        {%- endif -%}
    {%- endif -%}
    '{{ text | replace('\\', '\\\\') | replace("'", "\\'") }}'
{%- endmacro %}

{#- A quoted identifier: in backticks, each backtick doubled. -#}
{% macro spark_identifier(name) -%}
    `{{ name | string | replace('`', '``') }}`
{%- endmacro %}
