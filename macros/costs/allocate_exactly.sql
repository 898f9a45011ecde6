{#- Splits `amount` (the same on every row of a partition) over the partition's rows in
    proportion to `weight`, exactly: each row gets its share truncated to 1e-12 (`prorate`),
    and what truncation left over goes to the row with the largest weight (ties broken by
    `order_by`), so the shares add up to the amount to the last decimal. A select over
    `relation` with every column plus `allocated_usd`; every partition needs a positive total
    weight. -#}
{% macro allocate_exactly(relation, amount, weight, partition_by, order_by) -%}
select
    shares.* except (share_usd, share_rank),
    shares.share_usd + case
        when shares.share_rank = 1
            then shares.{{ amount }} - sum(shares.share_usd) over (partition by {{ partition_by }})
        else 0
    end as allocated_usd
from (
    select
        *,
        {{ prorate(amount, weight, 'sum(' ~ weight ~ ') over (partition by ' ~ partition_by ~ ')') }}
            as share_usd,
        row_number() over (
            partition by {{ partition_by }} order by {{ weight }} desc, {{ order_by }}
        ) as share_rank
    from {{ relation }}
) as shares
{%- endmacro %}
