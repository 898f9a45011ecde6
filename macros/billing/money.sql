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
    counts, 0 <= part <= whole. A whole of 0 (no usage: an idle tenant's month, a projection of
    no tokens) prorates nothing: 0, on every engine, never a division by zero (which fails the
    whole build on DuckDB and on Spark in ANSI mode). Exact while |amount| x part < 1.7e26
    (DuckDB's HUGEINT), e.g. a $1e9 month of 1e17 tokens. -#}
{% macro prorate(amount, part, whole) -%}
    {{ return(adapter.dispatch('prorate', 'meterhouse')(amount, part, whole)) }}
{%- endmacro %}

{% macro default__prorate(amount, part, whole) -%}
    (case when ({{ whole }}) = 0 then cast(0 as decimal(38, 12)) else
        cast((cast(cast({{ amount }} as decimal(38, 12)) * 1000000000000 as hugeint) * ({{ part }})) // nullif({{ whole }}, 0) as decimal(38, 0)) * cast(0.000000000001 as decimal(13, 12))
    end)
{%- endmacro %}

{#- Spark has no 128-bit integer: the amount is split into whole units and 1e-12 parts so that
    no product passes 38 digits, and each part is divided exactly (`spark__floor_div`). -#}
{% macro spark__prorate(amount, part, whole) -%}
    {%- set size = 'abs(cast(' ~ amount ~ ' as decimal(38, 12)))' -%}
    {%- set units = 'cast(floor(' ~ size ~ ') as decimal(38, 0))' -%}
    {%- set fraction = 'cast((' ~ size ~ ' - floor(' ~ size ~ ')) * 1000000000000'
                       ~ ' as decimal(38, 0))' -%}
    {%- set p = 'cast(' ~ part ~ ' as decimal(20, 0))' -%}
    {%- set w = 'cast(nullif(' ~ whole ~ ', 0) as decimal(20, 0))' -%}
    {%- set units_part = '(' ~ units ~ ' * ' ~ p ~ ')' -%}
    {%- set units_share = spark__floor_div(units_part, w) -%}
    {%- set carried = '((' ~ units_part ~ ' - ' ~ units_share ~ ' * ' ~ w ~ ') * 1000000000000 + '
                      ~ fraction ~ ' * ' ~ p ~ ')' -%}
    (case when ({{ whole }}) = 0 then cast(0 as decimal(38, 12)) else
        case when cast({{ amount }} as decimal(38, 12)) < 0 then -1 else 1 end
        * cast({{ units_share }} + {{ spark__floor_div(carried, w) }} * cast(0.000000000001 as decimal(13, 12)) as decimal(38, 12))
    end)
{%- endmacro %}

{#- Amount for `tokens` at a price per 1M tokens, exact: multiplying by 0.000001 keeps a
    DECIMAL (dividing would give a DOUBLE on DuckDB). Unrounded: money is rounded once, on
    invoice lines. -#}
{% macro amount_for_tokens(tokens, price_per_1m_tokens) -%}
    (cast({{ tokens }} as decimal(38, 0)) * {{ price_per_1m_tokens }} * cast(0.000001 as decimal(7, 6)))
{%- endmacro %}

{#- Vendor list cost of one side of a request or group at its per-class prices, unrounded:
    the token classes of that direction ('input': uncached, cache read and cache write tokens;
    'output': reasoning and the rest). api_cost_usd is input + output;
    fct_cost_per_1m_tokens shows the two apart. -#}
{% macro list_cost(side) -%}
    {%- set classes = token_classes() | selectattr('direction', 'equalto', side) | list -%}
    {%- if not classes -%}
    {{ exceptions.raise_compiler_error(
        "list_cost: side must be 'input' or 'output', not '" ~ side ~ "'") }}
    {%- endif -%}
    {%- set terms = [] -%}
    {%- for c in classes -%}
    {%- do terms.append(amount_for_tokens(c.quantity_column, c.price_column)) -%}
    {%- endfor -%}
    ({{ terms | join('\n        + ') }})
{%- endmacro %}

{#- Splits the whole number in column `units` (the same on every row of a partition, of either
    sign) over the partition's rows in proportion to `weight` (positive), in whole units, by
    largest remainder: each row gets the whole part of its exact share, and the units that
    leaves over go one each to the rows with the largest fractional parts (ties by
    `order_by`). The parts add up to `units` exactly and none is a unit or more off its exact
    share; a row that is its partition's only one gets it all. A select over `relation` with
    every column plus `as_name` (DECIMAL(38, 0)). -#}
{% macro allocate_whole_units(relation, units, weight, partition_by, order_by, as_name) -%}
select
    ranked.* except (unit_share, unit_floor, unit_rank),
    cast(case when ranked.{{ units }} < 0 then -1 else 1 end * (ranked.unit_floor + case
        when ranked.unit_rank <= abs(ranked.{{ units }})
            - sum(ranked.unit_floor) over (partition by {{ partition_by }})
            then 1
        else 0
    end) as decimal(38, 0)) as {{ as_name }}
from (
    select
        shares.*,
        row_number() over (
            partition by {{ partition_by }}
            order by shares.unit_share - shares.unit_floor desc, {{ order_by }}
        ) as unit_rank
    from (
        select
            exact.*,
            cast(floor(exact.unit_share) as decimal(38, 0)) as unit_floor
        from (
            select
                *,
                {{ prorate('abs(' ~ units ~ ')', weight,
                           'sum(' ~ weight ~ ') over (partition by ' ~ partition_by ~ ')') }}
                    as unit_share
            from {{ relation }}
        ) as exact
    ) as shares
) as ranked
{%- endmacro %}
