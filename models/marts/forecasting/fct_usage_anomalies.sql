-- grain: one row per tenant_id, usage_date, kind and model_id (null but for new_model)
-- Days on which a tenant's usage departs from its own recent baseline (docs/forecasting.md):
-- the robust z-scores of int_tenant_days_scored, labelled here.
--   token_storm:  tokens >= anomaly_min_ratio (default 4) x expected and at least
--                 anomaly_min_tokens (default 50,000) above it, and either requests >= that
--                 ratio x expected with a z of anomaly_z (default 4) or more, or tokens >= 10x
--                 expected with a z of twice that (a runaway client: many more requests, or
--                 far longer ones)
--   sudden_drop:  the mirror image: tokens and requests <= expected / anomaly_min_ratio,
--                 anomaly_min_tokens below it, and either z <= -anomaly_z
--   ratio_shift:  the output/input token ratio's z beyond +-anomaly_z and 2x off its median,
--                 on a day of anomaly_min_tokens or more
--   new_model:    the first day a tenant with 14+ days of history uses a model
-- Requests are tested as well as tokens because a small tenant's daily tokens swing with a
-- single long request. severity: high from twice the threshold or on a silent day, else
-- medium; info for new_model.
{%- set z = var('anomaly_z', 4) %}
{%- set ratio = var('anomaly_min_ratio', 4) %}
{%- set min_tokens = var('anomaly_min_tokens', 50000) %}
with scored as (
    select * from {{ ref('int_tenant_days_scored') }}
    where has_baseline
),

firsts as (
    select distinct tenant_id, first_usage_date from {{ ref('int_tenant_days_scored') }}
),

volume as (
    select
        tenant_id, usage_date,
        case when z_tokens > 0 then 'token_storm' else 'sudden_drop' end as kind,
        case when greatest(abs(z_tokens), abs(z_requests)) >= {{ 2 * z }} or tokens = 0
            then 'high' else 'medium' end as severity,
        cast(null as string) as model_id,
        cast(tokens as double) as observed_value,
        exp(expected_log_tokens) - 1 as expected_value,
        case
            when z_tokens > 0 then greatest(z_tokens, z_requests)
            else least(z_tokens, z_requests)
        end as robust_z
    from scored
    where (log_tokens >= expected_log_tokens + ln({{ ratio }})
            and tokens - (exp(expected_log_tokens) - 1) >= {{ min_tokens }}
            and ((z_requests >= {{ z }} and log_requests >= expected_log_requests + ln({{ ratio }}))
                or (z_tokens >= {{ 2 * z }} and log_tokens >= expected_log_tokens + ln(10))))
        or (log_tokens <= expected_log_tokens - ln({{ ratio }})
            and (exp(expected_log_tokens) - 1) - tokens >= {{ min_tokens }}
            and log_requests <= expected_log_requests - ln({{ ratio }})
            and (z_requests <= -{{ z }} or z_tokens <= -{{ z }}))
),

ratio as (
    select
        tenant_id, usage_date, 'ratio_shift' as kind,
        case when abs(z_ratio) >= {{ 2 * z }} then 'high' else 'medium' end as severity,
        cast(null as string) as model_id,
        exp(log_ratio) as observed_value,
        exp(median_log_ratio) as expected_value,
        z_ratio as robust_z
    from scored
    where abs(z_ratio) >= {{ z }} and abs(log_ratio - median_log_ratio) >= ln(2)
        and tokens >= {{ min_tokens }}
),

first_use as (
    select
        tenant_id,
        model_id,
        min(usage_date) as usage_date,
        sum(input_tokens + output_tokens) as tokens
    from {{ ref('fct_usage_daily') }}
    group by tenant_id, model_id
),

new_models as (
    select
        first_use.tenant_id, first_use.usage_date, 'new_model' as kind, 'info' as severity,
        first_use.model_id,
        cast(null as double) as observed_value,
        cast(null as double) as expected_value,
        cast(null as double) as robust_z
    from first_use
    inner join firsts using (tenant_id)
    where first_use.usage_date >= {{ dbt.dateadd('day', 14, 'firsts.first_usage_date') }}
),

final as (
    select * from volume
    union all
    select * from ratio
    union all
    select * from new_models
)

select * from final
