-- grain: one row per tenant_id and usage_date, every day from the tenant's first day
-- How far each tenant-day departs from the tenant's own recent baseline (docs/forecasting.md),
-- for fct_usage_anomalies to label. Each measure (requests, tokens) has a baseline: the 28
-- days before, when at least 14 of them are known (has_baseline), on the log scale
-- (log(1 + value)) with the weekly rhythm taken out (each weekday's effect is the median of
-- that weekday's values minus the median of all 28).
-- robust z = (today adjusted for its weekday - median of the adjusted baseline)
--            / (1.4826 x their median absolute deviation, at least 0.05).
-- The output/input token ratio has its own baseline (14 known ratios of the 28 days before),
-- without a weekday effect. Silent days count as 0.
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
    select this_day.tenant_id, this_day.usage_date, this_day.measure, earlier.weekday, earlier.value
    from measures as this_day
    inner join measures as earlier
        on earlier.tenant_id = this_day.tenant_id
        and earlier.measure = this_day.measure
        and earlier.usage_date < this_day.usage_date
        and earlier.usage_date >= {{ dbt.dateadd('day', -28, 'this_day.usage_date') }}
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
    select this_day.tenant_id, this_day.usage_date, median(earlier.log_ratio) as median_log_ratio
    from days as this_day
    inner join days as earlier
        on earlier.tenant_id = this_day.tenant_id
        and earlier.usage_date < this_day.usage_date
        and earlier.usage_date >= {{ dbt.dateadd('day', -28, 'this_day.usage_date') }}
    group by this_day.tenant_id, this_day.usage_date
    having count(earlier.log_ratio) >= 14
),

ratio_spreads as (
    select this_day.tenant_id, this_day.usage_date,
        median(abs(earlier.log_ratio - ratio_baselines.median_log_ratio)) as mad_log_ratio
    from days as this_day
    inner join ratio_baselines using (tenant_id, usage_date)
    inner join days as earlier
        on earlier.tenant_id = this_day.tenant_id
        and earlier.usage_date < this_day.usage_date
        and earlier.usage_date >= {{ dbt.dateadd('day', -28, 'this_day.usage_date') }}
    group by this_day.tenant_id, this_day.usage_date
),

final as (
    select
        days.tenant_id,
        days.usage_date,
        firsts.first_day as first_usage_date,
        tokens_score.tenant_id is not null and requests_score.tenant_id is not null as has_baseline,
        days.tokens,
        days.log_tokens,
        days.log_requests,
        days.log_ratio,
        tokens_score.expected as expected_log_tokens,
        tokens_score.z as z_tokens,
        requests_score.expected as expected_log_requests,
        requests_score.z as z_requests,
        ratio_baselines.median_log_ratio,
        (days.log_ratio - ratio_baselines.median_log_ratio)
            / (1.4826 * greatest(ratio_spreads.mad_log_ratio, 0.05)) as z_ratio
    from days
    inner join firsts on firsts.tenant_id = days.tenant_id
    left join measure_scores as tokens_score
        on tokens_score.tenant_id = days.tenant_id and tokens_score.usage_date = days.usage_date
        and tokens_score.measure = 'tokens'
    left join measure_scores as requests_score
        on requests_score.tenant_id = days.tenant_id and requests_score.usage_date = days.usage_date
        and requests_score.measure = 'requests'
    left join ratio_baselines
        on ratio_baselines.tenant_id = days.tenant_id
        and ratio_baselines.usage_date = days.usage_date
    left join ratio_spreads
        on ratio_spreads.tenant_id = days.tenant_id and ratio_spreads.usage_date = days.usage_date
)

select * from final
