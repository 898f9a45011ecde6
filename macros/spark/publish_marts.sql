{#- After a successful run on Spark, every mart is also written as Parquet to
    $METERHOUSE_SPARK_DIR/marts/<mart>/, views included: the CLI reads invoices, reports and the
    forecast series from there with DuckDB (warehouse/spark.py), and `make test-spark`
    compares them with the DuckDB build. On a cluster the folder is object storage. Nothing to
    do on DuckDB, where the marts are in the warehouse file. -#}
{% macro publish_marts() -%}
    {{ return(adapter.dispatch('publish_marts', 'meterhouse')()) }}
{%- endmacro %}

{% macro default__publish_marts() -%}
    select 1
{%- endmacro %}

{% macro spark__publish_marts() -%}
    {%- if execute and flags.WHICH in ['build', 'run'] -%}
        {%- set failed = [] -%}
        {%- for result in results if result.status in ['error', 'fail', 'skipped'] -%}
            {%- do failed.append(result.node.name) -%}
        {%- endfor -%}
        {%- if not failed -%}
            {%- set folder = env_var('METERHOUSE_SPARK_DIR', 'spark') ~ '/marts' -%}
            {%- for node in graph.nodes.values()
                if node.resource_type == 'model' and node.fqn[1] == 'marts' -%}
                {%- set relation = adapter.get_relation(
                    database=node.database, schema=node.schema, identifier=node.alias) -%}
                {%- if relation is not none -%}
                    {%- do run_query('insert overwrite directory '
                        ~ spark_string(folder ~ '/' ~ node.name)
                        ~ ' using parquet select * from ' ~ relation) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
    select 1
{%- endmacro %}
