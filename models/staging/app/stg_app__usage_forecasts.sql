with source as (
    select * from {{ source('app', 'usage_forecasts') }}
),

final as (
    select
        series_type,
        series_key,
        token_direction,
        forecast_date,
        horizon_days,
        predicted_tokens,
        lower_80_tokens,
        upper_80_tokens,
        lower_95_tokens,
        upper_95_tokens,
        method,
        trained_through_date
    from source
)

select * from final
