-- grain: one row per tenant_id, usage_date, kind and model_id (null but for new_model)
-- Days on which a tenant's usage departs from its own recent baseline (docs/forecasting.md).
-- Each measure (requests, tokens) has a baseline: the 28 days before, when at least 14 of
-- them are known, on the log scale (log(1 + value)) with the weekly rhythm taken out (each
-- weekday's effect is the median of that weekday's values minus the median of all 28).
-- robust z = (today adjusted for its weekday - median of the adjusted baseline)
--            / (1.4826 x their median absolute deviation).
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
with series as (
    select series_key as tenant_id, usage_date, requests, tokens, input_tokens, output_tokens
    from {{ ref('fct_usage_series_daily') }}
    where series_type = 'tenant'
),

calendar as (
    select distinct usage_date from series
),

firsts as (
    select tenant_id, min(usage_date) as first_day from series group by tenant_id
),

-- every day from each tenant's first day, silent days as 0
days as (
    select
        firsts.tenant_id,
        calendar.usage_date,
        extract(dow from calendar.usage_date) as weekday,
        coalesce(series.tokens, 0) as tokens,
        case when series.input_tokens > 0 and series.output_tokens > 0
            then ln(cast(series.output_tokens as double) / series.input_tokens) end as log_ratio,
        ln(1 + coalesce(series.requests, 0)) as log_requests,
        ln(1 + coalesce(series.tokens, 0)) as log_tokens
    from firsts
    inner join calendar on calendar.usage_date >= firsts.first_day
    left join series
        on series.tenant_id = firsts.tenant_id and series.usage_date = calendar.usage_date
),

measures as (
    select tenant_id, usage_date, weekday, 'requests' as measure, log_requests as value from days
    union all
    select tenant_id, usage_date, weekday, 'tokens', log_tokens from days
),

window_pairs as (
    select today.tenant_id, today.usage_date, today.measure, prior.weekday, prior.value
    from measures as today
    inner join measures as prior
        on prior.tenant_id = today.tenant_id
        and prior.measure = today.measure
        and prior.usage_date < today.usage_date
        and prior.usage_date >= {{ dbt.dateadd('day', -28, 'today.usage_date') }}
),

levels as (
    select tenant_id, usage_date, measure, median(value) as level
    from window_pairs
    group by tenant_id, usage_date, measure
    having count(*) >= 14
),

weekday_effects as (
    select window_pairs.tenant_id, window_pairs.usage_date, window_pairs.measure,
        window_pairs.weekday, median(window_pairs.value) - max(levels.level) as effect
    from window_pairs
    inner join levels using (tenant_id, usage_date, measure)
    group by window_pairs.tenant_id, window_pairs.usage_date, window_pairs.measure,
        window_pairs.weekday
),

adjusted as (
    select window_pairs.tenant_id, window_pairs.usage_date, window_pairs.measure,
        window_pairs.value - weekday_effects.effect as adjusted
    from window_pairs
    inner join weekday_effects using (tenant_id, usage_date, measure, weekday)
),

medians as (
    select tenant_id, usage_date, measure, median(adjusted) as median_adjusted
    from adjusted
    group by tenant_id, usage_date, measure
),

spreads as (
    select adjusted.tenant_id, adjusted.usage_date, adjusted.measure,
        median(abs(adjusted.adjusted - medians.median_adjusted)) as mad
    from adjusted
    inner join medians using (tenant_id, usage_date, measure)
    group by adjusted.tenant_id, adjusted.usage_date, adjusted.measure
),

measure_scores as (
    select
        measures.tenant_id, measures.usage_date, measures.measure,
        medians.median_adjusted + coalesce(weekday_effects.effect, 0) as expected,
        (measures.value - coalesce(weekday_effects.effect, 0) - medians.median_adjusted)
            / (1.4826 * greatest(spreads.mad, 0.05)) as z
    from measures
    inner join medians using (tenant_id, usage_date, measure)
    inner join spreads using (tenant_id, usage_date, measure)
    left join weekday_effects using (tenant_id, usage_date, measure, weekday)
),

ratio_baselines as (
    select today.tenant_id, today.usage_date, median(prior.log_ratio) as median_log_ratio
    from days as today
    inner join days as prior
        on prior.tenant_id = today.tenant_id
        and prior.usage_date < today.usage_date
        and prior.usage_date >= {{ dbt.dateadd('day', -28, 'today.usage_date') }}
    group by today.tenant_id, today.usage_date
    having count(prior.log_ratio) >= 14
),

ratio_spreads as (
    select today.tenant_id, today.usage_date,
        median(abs(prior.log_ratio - ratio_baselines.median_log_ratio)) as mad_log_ratio
    from days as today
    inner join ratio_baselines using (tenant_id, usage_date)
    inner join days as prior
        on prior.tenant_id = today.tenant_id
        and prior.usage_date < today.usage_date
        and prior.usage_date >= {{ dbt.dateadd('day', -28, 'today.usage_date') }}
    group by today.tenant_id, today.usage_date
),

scored as (
    select
        days.*,
        tokens_score.expected as expected_log_tokens,
        tokens_score.z as z_tokens,
        requests_score.expected as expected_log_requests,
        requests_score.z as z_requests,
        ratio_baselines.median_log_ratio,
        (days.log_ratio - ratio_baselines.median_log_ratio)
            / (1.4826 * greatest(ratio_spreads.mad_log_ratio, 0.05)) as z_ratio
    from days
    inner join measure_scores as tokens_score
        on tokens_score.tenant_id = days.tenant_id and tokens_score.usage_date = days.usage_date
        and tokens_score.measure = 'tokens'
    inner join measure_scores as requests_score
        on requests_score.tenant_id = days.tenant_id and requests_score.usage_date = days.usage_date
        and requests_score.measure = 'requests'
    left join ratio_baselines
        on ratio_baselines.tenant_id = days.tenant_id and ratio_baselines.usage_date = days.usage_date
    left join ratio_spreads
        on ratio_spreads.tenant_id = days.tenant_id and ratio_spreads.usage_date = days.usage_date
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
        case when z_tokens > 0 then greatest(z_tokens, z_requests) else least(z_tokens, z_requests) end
            as robust_z
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
    select tenant_id, model_id, min(usage_date) as usage_date, sum(input_tokens + output_tokens) as tokens
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
    where first_use.usage_date >= {{ dbt.dateadd('day', 14, 'firsts.first_day') }}
),

final as (
    select * from volume
    union all
    select * from ratio
    union all
    select * from new_models
)

select * from final
