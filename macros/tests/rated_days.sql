{#- Data tests on what grows with history read the days a build changes, not every day
    (docs/decisions/0030). A test configured `where: rated_days` (or a singular test filtering
    on `rated_days(column)`) reads the rows of the usage days recorded in raw.changed_days after
    change METERHOUSE_CHECK_AFTER_CHANGE, which `meterhouse build` and `nightly` set to the
    change the marts were built through: the night's days, a late file's old day among them.
    Unset (a first build, --full-refresh, --full-check, dbt run by hand), the test reads every
    row. Any other `where` works as dbt's own. The raw table is named from the graph, not
    through source(): a generic test's `where` is not rendered when dbt parses it, so a
    source() here would be a dependency dbt never recorded. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where == 'rated_days' -%}
        {%- set where = rated_days('usage_date') -%}
    {%- endif -%}
    {%- if where -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}

{% macro rated_days(column) -%}
    {%- set after = env_var('METERHOUSE_CHECK_AFTER_CHANGE', '') -%}
    {%- if not execute or after == '' -%}
        true
    {%- else -%}
        {%- set changes = graph.sources.values()
            | selectattr('source_name', 'equalto', 'meterhouse')
            | selectattr('name', 'equalto', 'changed_days') | first -%}
        {{ column }} in (
            select usage_date from {{ changes.relation_name }}
            where dataset = 'usage_events' and change_id > {{ after | int }}
        )
    {%- endif -%}
{%- endmacro %}
