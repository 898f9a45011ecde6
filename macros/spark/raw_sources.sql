{#- The project's sources on each engine: `meterhouse` (schema raw, the loaded inputs) and `app`
    (schema app, the CLI's own records). On DuckDB the CLI writes those tables into the
    warehouse file itself: nothing to do. On Spark they are external tables over the CLI's
    Parquet export of them ($METERHOUSE_SPARK_DIR/<schema>/<table>, warehouse/spark.py), declared
    again at the start of every run so a new export is read whole. The location is a literal
    folder, not a Hadoop glob pattern ('__globPaths__' 'false'): a folder name holding a
    backslash, *, ?, [ or { is read as it is. -#}
{% macro register_raw_sources() -%}
    {{ return(adapter.dispatch('register_raw_sources', 'meterhouse')()) }}
{%- endmacro %}

{% macro default__register_raw_sources() -%}
    select 1
{%- endmacro %}

{% macro spark__register_raw_sources() -%}
    {%- if execute -%}
        {%- set lake = env_var('METERHOUSE_SPARK_DIR', 'spark') -%}
        {%- for source in graph.sources.values() if source.package_name == 'meterhouse' -%}
            {%- do run_query('create database if not exists ' ~ spark_identifier(source.schema)) -%}
            {%- set table = spark_identifier(source.schema) ~ '.'
                ~ spark_identifier(source.name) -%}
            {%- set location = lake ~ '/' ~ source.schema ~ '/' ~ source.name -%}
            {%- do run_query('drop table if exists ' ~ table) -%}
            {%- do run_query('create table ' ~ table ~ " using parquet options ('__globPaths__' "
                ~ "'false') location " ~ spark_string(location)) -%}
        {%- endfor -%}
    {%- endif -%}
    select 1
{%- endmacro %}
