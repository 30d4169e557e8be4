-- KapMan MVP schema: what the migrations build, written by `npm run db:schema:dump`.
-- Do not edit: a test fails when the migrations and this file disagree. For review, not for loading.

CREATE EXTENSION IF NOT EXISTS timescaledb;

CREATE TYPE public.option_strategy AS ENUM ('LONG_CALL', 'LONG_PUT', 'CSP', 'VERTICAL_SPREAD');
CREATE TYPE public.option_type AS ENUM ('C', 'P');
CREATE TYPE public.outcome_status AS ENUM ('WIN', 'LOSS', 'NEUTRAL');
CREATE TYPE public.recommendation_action AS ENUM ('BUY', 'SELL', 'HOLD', 'HEDGE');
CREATE TYPE public.recommendation_direction AS ENUM ('LONG', 'SHORT', 'NEUTRAL');
CREATE TYPE public.recommendation_status AS ENUM ('active', 'closed', 'expired');

CREATE TABLE public.daily_snapshots (
    "time" timestamp with time zone NOT NULL,
    ticker_id uuid NOT NULL,
    wyckoff_phase character varying(1),
    phase_score numeric(6,3),
    phase_confidence numeric(4,3),
    events_detected text[],
    primary_event character varying(20),
    events_json jsonb,
    bc_score integer,
    spring_score integer,
    composite_score numeric(6,2),
    technical_indicators_json jsonb,
    dealer_metrics_json jsonb,
    volatility_metrics_json jsonb,
    price_metrics_json jsonb,
    model_version character varying(50),
    created_at timestamp with time zone DEFAULT now() NOT NULL
);
ALTER TABLE ONLY public.daily_snapshots ADD CONSTRAINT daily_snapshots_bc_score_check CHECK (((bc_score >= 0) AND (bc_score <= 28)));
ALTER TABLE ONLY public.daily_snapshots ADD CONSTRAINT daily_snapshots_phase_confidence_check CHECK (((phase_confidence >= (0)::numeric) AND (phase_confidence <= (1)::numeric)));
ALTER TABLE ONLY public.daily_snapshots ADD CONSTRAINT daily_snapshots_pkey PRIMARY KEY ("time", ticker_id);
ALTER TABLE ONLY public.daily_snapshots ADD CONSTRAINT daily_snapshots_spring_score_check CHECK (((spring_score >= 0) AND (spring_score <= 12)));
ALTER TABLE ONLY public.daily_snapshots ADD CONSTRAINT daily_snapshots_wyckoff_phase_check CHECK (((wyckoff_phase)::text = ANY ((ARRAY['A'::character varying, 'B'::character varying, 'C'::character varying, 'D'::character varying, 'E'::character varying])::text[])));
CREATE INDEX daily_snapshots_ticker_id_time_index ON public.daily_snapshots USING btree (ticker_id, "time");

CREATE TABLE public.ohlcv (
    ticker_id uuid NOT NULL,
    date date NOT NULL,
    open numeric,
    high numeric,
    low numeric,
    close numeric,
    volume bigint,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);
ALTER TABLE ONLY public.ohlcv ADD CONSTRAINT ohlcv_pkey PRIMARY KEY (ticker_id, date);
CREATE INDEX ohlcv_date_idx ON public.ohlcv USING btree (date DESC);

CREATE TABLE public.options_chains (
    "time" timestamp with time zone NOT NULL,
    ticker_id uuid NOT NULL,
    expiration_date date NOT NULL,
    strike_price numeric(12,4) NOT NULL,
    option_type option_type NOT NULL,
    bid numeric(12,4),
    ask numeric(12,4),
    last numeric(12,4),
    volume integer,
    open_interest integer,
    implied_volatility numeric(10,6),
    delta numeric(10,6),
    gamma numeric(10,6),
    theta numeric(10,6),
    vega numeric(10,6),
    created_at timestamp with time zone DEFAULT now() NOT NULL
);
ALTER TABLE ONLY public.options_chains ADD CONSTRAINT options_chains_pkey PRIMARY KEY ("time", ticker_id, expiration_date, strike_price, option_type);
CREATE INDEX options_chains_ticker_id_time_index ON public.options_chains USING btree (ticker_id, "time");

CREATE TABLE public.recommendation_outcomes (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    recommendation_id uuid NOT NULL,
    evaluation_date date NOT NULL,
    evaluation_window_days integer,
    entry_price_actual numeric(12,4),
    exit_price_actual numeric(12,4),
    high_price_during_window numeric(12,4),
    low_price_during_window numeric(12,4),
    days_held integer,
    direction_correct boolean,
    predicted_confidence numeric(4,3),
    directional_brier numeric(6,4),
    actual_return_pct numeric(8,4),
    hit_profit_target boolean,
    hit_stop_loss boolean,
    outcome_status outcome_status,
    notes text,
    evaluated_at timestamp with time zone DEFAULT now() NOT NULL
);
ALTER TABLE ONLY public.recommendation_outcomes ADD CONSTRAINT recommendation_outcomes_pkey PRIMARY KEY (id);
CREATE INDEX recommendation_outcomes_recommendation_id_index ON public.recommendation_outcomes USING btree (recommendation_id);

CREATE TABLE public.recommendations (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    snapshot_time timestamp with time zone NOT NULL,
    ticker_id uuid NOT NULL,
    recommendation_date date NOT NULL,
    direction recommendation_direction NOT NULL,
    action recommendation_action NOT NULL,
    confidence numeric(4,3),
    justification text,
    entry_price_target numeric(12,4),
    stop_loss numeric(12,4),
    profit_target numeric(12,4),
    risk_reward_ratio numeric(6,2),
    option_strike numeric(12,4),
    option_expiration date,
    option_type option_type,
    option_strategy option_strategy,
    status recommendation_status DEFAULT 'active'::recommendation_status NOT NULL,
    model_version character varying(50),
    created_at timestamp with time zone DEFAULT now() NOT NULL
);
ALTER TABLE ONLY public.recommendations ADD CONSTRAINT recommendations_confidence_check CHECK (((confidence >= (0)::numeric) AND (confidence <= (1)::numeric)));
ALTER TABLE ONLY public.recommendations ADD CONSTRAINT recommendations_pkey PRIMARY KEY (id);
CREATE INDEX recommendations_snapshot_time_ticker_id_index ON public.recommendations USING btree (snapshot_time, ticker_id);
CREATE INDEX recommendations_ticker_id_recommendation_date_index ON public.recommendations USING btree (ticker_id, recommendation_date);

CREATE TABLE public.tickers (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    symbol character varying(20) NOT NULL,
    name character varying(255),
    sector character varying(100),
    is_active boolean DEFAULT true NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);
ALTER TABLE ONLY public.tickers ADD CONSTRAINT tickers_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.tickers ADD CONSTRAINT tickers_symbol_unique UNIQUE (symbol);

SELECT create_hypertable('public.ohlcv', by_range('date', INTERVAL '365 days'), create_default_indexes => false);

ALTER TABLE ONLY public.daily_snapshots ADD CONSTRAINT daily_snapshots_ticker_id_foreign FOREIGN KEY (ticker_id) REFERENCES tickers(id) ON DELETE CASCADE;
ALTER TABLE public.ohlcv ADD CONSTRAINT ohlcv_ticker_id_foreign FOREIGN KEY (ticker_id) REFERENCES tickers(id) ON DELETE CASCADE;
ALTER TABLE ONLY public.options_chains ADD CONSTRAINT options_chains_ticker_id_foreign FOREIGN KEY (ticker_id) REFERENCES tickers(id) ON DELETE CASCADE;
ALTER TABLE ONLY public.recommendation_outcomes ADD CONSTRAINT recommendation_outcomes_recommendation_id_foreign FOREIGN KEY (recommendation_id) REFERENCES recommendations(id) ON DELETE CASCADE;
ALTER TABLE ONLY public.recommendations ADD CONSTRAINT recommendations_snapshot_time_ticker_id_foreign FOREIGN KEY (snapshot_time, ticker_id) REFERENCES daily_snapshots("time", ticker_id);
ALTER TABLE ONLY public.recommendations ADD CONSTRAINT recommendations_ticker_id_foreign FOREIGN KEY (ticker_id) REFERENCES tickers(id) ON DELETE CASCADE;

-- Migrations applied, with the sha256 of each file:
-- 0001_timescaledb.ts 76d2007c68bab8396bb6bbf62146bc78844da6a504cdbcef4aab7c63aca2ad75
-- 0002_enum_types.ts db501c53bd46d2c289279b3cb52ecb29dfa7a0afdeafa1cb069ed4d9c745b4c7
-- 0003_tickers.ts ac8b24bbda2dd32b6f3509f474b44ef820106fad8e11f2e09a5bd39cdb9582f1
-- 0004_ohlcv.ts 2f84daeb982317562e861201483e90a7a79b8902070ba094df13596ae75c0fb4
-- 0005_options_chains.ts 002eec4a454c25a93a508af21991953c46542d63373cd2bfab972c233dc3a804
-- 0006_daily_snapshots.ts e63dd14ff33e0d651b6eda3c190f64b738673d99e902d198dd6bbb83938a4eb3
-- 0007_recommendations.ts e26129ed671c5642979cb174a90940cb6af89621230f0119de0c81ec860c7d3b
-- 0008_recommendation_outcomes.ts 69415bea2cc13d86c6991b7a0308707fe62aeab7ddb73981be902eea0e6df9ba
