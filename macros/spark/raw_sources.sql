{#- The `meterhouse` source on each engine. On DuckDB the loader writes the raw tables into the
    warehouse file itself: nothing to do. On Spark they are external tables over the loader's
    Parquet export of them ($METERHOUSE_SPARK_DIR/raw/<table>, warehouse/spark.py), declared
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
        {%- set lake = env_var('METERHOUSE_SPARK_DIR', 'spark') ~ '/raw' -%}
        {%- do run_query('create database if not exists raw') -%}
        {%- for source in graph.sources.values() if source.source_name == 'meterhouse' -%}
            {%- set table = 'raw.' ~ spark_identifier(source.name) -%}
            {%- do run_query('drop table if exists ' ~ table) -%}
            {%- do run_query('create table ' ~ table ~ " using parquet options ('__globPaths__' "
                ~ "'false') location " ~ spark_string(lake ~ '/' ~ source.name)) -%}
        {%- endfor -%}
    {%- endif -%}
    select 1
{%- endmacro %}
