{#- The `meterhouse` source on each engine. On DuckDB the loader writes the raw tables into the
    warehouse file itself: nothing to do. On Spark they are external tables over the loader's
    Parquet export of them ($METERHOUSE_SPARK_DIR/raw/<table>, warehouse/spark.py), declared
    again at the start of every run so a new export is read whole. -#}
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
            {%- do run_query('drop table if exists raw.' ~ source.name) -%}
            {%- do run_query('create table raw.' ~ source.name ~ " using parquet location '"
                ~ lake ~ '/' ~ source.name ~ "'") -%}
        {%- endfor -%}
    {%- endif -%}
    select 1
{%- endmacro %}
