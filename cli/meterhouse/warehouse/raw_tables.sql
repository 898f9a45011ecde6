-- The tables the warehouse stores, made on every writable open (warehouse/db.py):
-- - raw: what the loader loaded and its bookkeeping; dbt reads them as the `meterhouse` source.
-- - app: the application's own records (issued invoices, their lines and sell prices, stored
--   forecasts), written by the CLI, never by dbt; dbt reads them as the `app` source.
-- A change to a table that already exists in warehouses is an upgrade step, with a new schema
-- version (warehouse/upgrade.py, docs/decisions/0016).
-- event_at is a UTC instant stored as TIMESTAMP (no time zone), see docs/decisions/0002.
create schema if not exists raw;
create schema if not exists app;

-- The warehouse's schema version, one row (warehouse/upgrade.py).
create table if not exists app.schema_version (
    version      integer not null,
    recorded_at  timestamp not null
);

create table if not exists raw.load_manifest (
    file_id            bigint primary key,
    load_id            bigint not null,
    source_path        varchar not null,
    size_bytes         bigint not null,
    modified_ns        bigint not null,   -- file mtime: unchanged path, size and mtime skip unread
    content_sha256     varchar not null,
    rows_read          bigint not null,
    rows_loaded        bigint not null,
    rows_duplicate     bigint not null,
    rows_quarantined   bigint not null,
    ignored_columns    varchar[] not null,
    loaded_at          timestamp not null,
    check (rows_read = rows_loaded + rows_duplicate + rows_quarantined)
);

create table if not exists raw.usage_events (
    request_id              varchar not null,
    event_at                timestamp not null,
    usage_date              date not null,
    tenant_id               varchar not null,
    model                   varchar not null,
    input_tokens            bigint not null,
    output_tokens           bigint not null,
    cache_read_tokens       bigint not null,
    cache_write_tokens      bigint not null,
    cache_write_1h_tokens   bigint not null default 0,  -- of cache_write_tokens (Anthropic)
    reasoning_tokens        bigint not null,
    user_id                 varchar,
    provider                varchar,
    region                  varchar,
    service_tier            varchar not null,
    status                  varchar not null,
    latency_ms              double,
    first_token_latency_ms  double,
    gpu_id                  varchar,
    trace_id                varchar,
    served_from_cache       boolean not null default false,  -- a gateway's cache hit
    file_id                 bigint not null,
    source_row              bigint not null
);

-- The 1-hour cache writes (a part of cache_write_tokens); warehouses created before the column
-- existed get it with its default, 0 on every stored event: all their writes were priced as
-- 5-minute ones. Additive with a default and run on every writable open (a build's too, before
-- dbt reads the column), like raw.load_manifest.dataset below, so no version step: the loader
-- inserts by name, whatever the column's place.
alter table raw.usage_events add column if not exists cache_write_1h_tokens bigint default 0;
-- Requests a gateway answered from its own response cache (no provider call, no vendor cost;
-- billed only where the contract says so, docs/decisions/0028). The same kind of step: a
-- warehouse created before the column gets it with its default, false on every stored event,
-- as none of them was a cache hit (the loader left those out).
alter table raw.usage_events add column if not exists served_from_cache boolean default false;

create table if not exists raw.quarantined_events (
    file_id         bigint not null,
    source_row      bigint not null,
    request_id      varchar,
    tenant_id       varchar,
    rules_broken    varchar not null,
    detail          varchar,
    row_json        varchar not null,
    quarantined_at  timestamp not null
);

-- Vendor list prices, type-2 history: a re-import that changes a price closes the old row
-- (effective_to) and opens a new one; nothing is ever deleted. Written by `meterhouse prices`.
create table if not exists raw.price_book (
    model_id            varchar not null,
    provider            varchar,
    service_tier        varchar not null,
    min_context_tokens  bigint not null,   -- the price applies above this many input tokens
    token_class         varchar not null,  -- input, output, cache_read, cache_write, reasoning
    usd_per_1m_tokens   decimal(38, 12) not null,
    effective_from      timestamp not null,
    effective_to        timestamp,         -- null while in force
    source              varchar not null,
    imported_at         timestamp not null,
    check (effective_to is null or effective_to > effective_from)
);

-- Issued invoices, frozen by `meterhouse invoice issue`; dbt reads them and never writes them.
-- document_json is the document of record (its SHA-256 in content_sha256); through_file_id is
-- the last loaded file the invoice saw: events of later files become corrections.
create table if not exists app.issued_invoices (
    invoice_id            varchar primary key,
    tenant_id             varchar not null,
    invoice_month         date not null,
    currency              varchar not null,
    total_amount          decimal(38, 2) not null,
    line_count            bigint not null,
    issuer                varchar not null,
    issued_at             timestamp not null,
    through_file_id       bigint not null,
    document_json         varchar not null,
    content_sha256        varchar not null,
    unique (tenant_id, invoice_month)
);

create table if not exists app.issued_invoice_lines (
    invoice_id                varchar not null,
    line_number               bigint not null,
    line_type                 varchar not null,
    model_id                  varchar,
    token_class               varchar,
    quantity_tokens           bigint,
    unit_price_per_1m_tokens  decimal(38, 12),
    tier_from_tokens          bigint,
    credit_grant_id           varchar,
    corrects_invoice_id       varchar,
    corrected_line_type       varchar,
    amount                    decimal(38, 2) not null,
    currency                  varchar not null,
    primary key (invoice_id, line_number)
);

-- The sell prices an issued invoice was priced with (fct_sell_prices rows of its tenant and
-- month at issue time), so its usage lines trace to their requests whatever changes later.
create table if not exists app.issued_sell_prices (
    invoice_id                varchar not null,
    model_id                  varchar not null,
    is_success                boolean not null,
    token_class               varchar not null,
    list_usd_per_1m_tokens    decimal(38, 12) not null,
    is_billable               boolean not null,
    unit_price_per_1m_tokens  decimal(38, 12),
    is_served_from_cache      boolean not null default false
);
-- Whether a price is of a gateway's cache hits (billed by contract, docs/decisions/0028): the
-- prices of invoices issued before the column existed were none of them (their loads left cache
-- hits out), false. Additive with a default, as raw.usage_events.served_from_cache.
alter table app.issued_sell_prices add column if not exists is_served_from_cache boolean
    default false;

-- Token forecasts written by `meterhouse forecast` (docs/forecasting.md); a new run for the
-- same trained_through_date replaces that run's rows of the series it forecast.
create table if not exists app.usage_forecasts (
    series_type           varchar not null,   -- tenant or model
    series_key            varchar not null,   -- tenant_id or model_id
    token_direction       varchar not null,   -- total, input or output
    forecast_date         date not null,
    horizon_days          integer not null,
    predicted_tokens      bigint not null,
    lower_80_tokens       bigint not null,
    upper_80_tokens       bigint not null,
    lower_95_tokens       bigint not null,
    upper_95_tokens       bigint not null,
    method                varchar not null,   -- ets_seasonal_naive, ets, seasonal_naive, recent_mean
    trained_through_date  date not null,
    check (lower_95_tokens <= lower_80_tokens and lower_80_tokens <= predicted_tokens
           and predicted_tokens <= upper_80_tokens and upper_80_tokens <= upper_95_tokens)
);

-- Which dataset a loaded file belongs to (usage_events or gpu_hours); warehouses created
-- before GPU telemetry existed get the column with its default.
alter table raw.load_manifest add column if not exists dataset varchar default 'usage_events';
-- The source a file was read as (--source: events, litellm, otel, mapped; docs/sources.md), and
-- the records of it that are not usage (an agent span repeating its children's usage, a span
-- of a trace): counted here, by reason, and not in rows_read.
alter table raw.load_manifest add column if not exists source varchar default 'events';
alter table raw.load_manifest add column if not exists rows_skipped bigint default 0;
-- (no default: a list default makes a killed load's WAL need an extension to replay; null = none)
alter table raw.load_manifest add column if not exists skip_reasons varchar[];
-- Of rows_loaded, those a gateway answered from its own cache (served_from_cache; decision
-- 0028): loaded and counted, no vendor cost. 0 on the files of a warehouse from before.
alter table raw.load_manifest add column if not exists rows_served_from_cache bigint default 0;

-- GPU-hour telemetry (docs/gpu-hour-contract.md), loaded like the events by `meterhouse ingest
-- --gpu-hours`: one row per GPU and clock hour, hour_at a UTC instant without its zone.
create table if not exists raw.gpu_hours (
    gpu_id             varchar not null,
    hour_at            timestamp not null,
    powered_seconds    double not null,
    busy_seconds       double,
    utilization_ratio  double,
    file_id            bigint not null,
    source_row         bigint not null
);

create table if not exists raw.quarantined_gpu_hours (
    file_id         bigint not null,
    source_row      bigint not null,
    gpu_id          varchar,
    hour_at         timestamp,
    rules_broken    varchar not null,
    detail          varchar,
    row_json        varchar not null,
    quarantined_at  timestamp not null
);

-- The changed-days record (docs/decisions/0004): every change to loaded data writes, in the
-- transaction that makes it, one row per UTC day it changed, under one new change_id (ids only
-- grow). A load records the days of the rows it added ('load', with the files that brought
-- them); `meterhouse quarantine` the days of the events it holds or releases ('quarantine',
-- 'release'); a back-dated price import every usage day from its start ('reprice'). The
-- incremental models re-rate every day recorded after the change they last
-- saw. Warehouses created before the record existed get the table empty (their first build of
-- the incremental models is a full one).
create table if not exists raw.changed_days (
    change_id      bigint not null,
    dataset        varchar not null,   -- usage_events or gpu_hours
    usage_date     date not null,
    change_kind    varchar not null,   -- load, quarantine, release, reprice
    first_file_id  bigint,             -- the files whose rows of that day the change concerns
    last_file_id   bigint,
    row_count      bigint not null,    -- rows of that day added, held or released
    changed_at     timestamp not null,
    changed_by     varchar,            -- who, for a change made by hand
    detail         varchar,            -- why, for a change made by hand
    primary key (change_id, dataset, usage_date)
);

-- Loaded events held out of the marts after the fact (`meterhouse quarantine`): the event stays
-- in raw.usage_events, unchanged, and the staging model leaves out every event with an open
-- hold (released_at null). A release closes the hold; the event is back as it was. At most one
-- open hold per request_id (the command checks).
create table if not exists raw.event_holds (
    request_id         varchar not null,
    tenant_id          varchar not null,
    usage_date         date not null,
    file_id            bigint not null,
    reason             varchar not null,
    held_by            varchar not null,
    held_at            timestamp not null,
    hold_change_id     bigint not null,
    released_by        varchar,
    released_at        timestamp,
    release_reason     varchar,
    release_change_id  bigint,
    check ((released_at is null) = (release_change_id is null))
);
