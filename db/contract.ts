// The KapMan MVP schema as it must be: the one description that `db:verify` and the
// tests read. Types, defaults and constraint definitions are written the way
// PostgreSQL renders them (format_type, pg_get_expr, pg_get_constraintdef), so a
// live database can be compared with this text for text.

export interface ColumnContract {
  name: string;
  type: string;
  notNull: boolean;
  default?: string;
  /** GENERATED ALWAYS AS (…) STORED: the expression. */
  generated?: string;
  /** GENERATED … AS IDENTITY. */
  identity?: 'always' | 'by default';
  /** ALTER COLUMN … SET (…): the attribute options that are schema (see BUILD_STAMP_OPTIONS in read/tables.ts). */
  options?: string[];
  /** An identity column's sequence where it is not the one a bare `GENERATED … AS IDENTITY` makes: `name …, start …, increment …, …`. */
  identitySequence?: string;
}

export interface TableContract {
  /** In `public`, the bare name; in another schema, `schema.name`. */
  name: string;
  columns: ColumnContract[];
  /** Constraint name -> definition (primary key, unique, foreign key, check). */
  constraints: Record<string, string>;
  /** Index name -> `[UNIQUE ]method (columns)`, including the indexes behind constraints. */
  indexes: Record<string, string>;
  /** Trigger name -> its CREATE TRIGGER statement (pg_get_triggerdef). */
  triggers?: Record<string, string>;
  /** Row-level security: `enabled`, or `forced` on the owner too. */
  rowSecurity?: 'enabled' | 'forced';
  /** Row-level security policy name -> `AS PERMISSIVE FOR ALL TO role USING (…) WITH CHECK (…)`. */
  rowPolicies?: Record<string, string>;
}

export interface HypertableContract {
  table: string;
  timeColumn: string;
  chunkInterval: string;
  /** The dimensions after the first, e.g. `ticker_id: hash, 4 partitions`. */
  dimensions?: string[];
  /** Compression settings, as TimescaleDB lists them: `segmentBy` columns, `orderBy` with directions. */
  compression?: { segmentBy: string; orderBy: string };
  /** An integer time column's function giving "now" (set_integer_now_func). */
  integerNow?: string;
  /** Tablespaces attached to it (attach_tablespace), in order. */
  tablespaces?: string[];
}

/** A TimescaleDB job: a retention, compression or refresh policy, or a job of the database's own (add_job). */
export interface PolicyContract {
  /** The hypertable or continuous aggregate it acts on; absent for a job of the database's own. */
  on?: string;
  /** `retention`, `compression`, `refresh`, `reorder`; for add_job, its procedure. */
  kind: string;
  /** Its configuration as TimescaleDB keeps it, without its ids (hypertable_id): e.g. `{ drop_after: '730 days' }`. */
  config: Record<string, unknown>;
  /** How often it runs, as an interval. */
  schedule: string;
  /** Set when alter_job(scheduled => false) paused it. */
  paused?: boolean;
  // What alter_job changed from the defaults TimescaleDB gives a job of its kind (JOB_DEFAULTS in read/timescale.ts); absent where it is the default.
  maxRuntime?: string;
  maxRetries?: number;
  retryPeriod?: string;
  fixedSchedule?: boolean;
  /** The function that checks its configuration (`schema.name`), or `none`. */
  check?: string;
}

export interface ContinuousAggregateContract {
  /** The query it materializes, as TimescaleDB lists it. */
  query: string;
  materializedOnly: boolean;
}

export interface SchemaContract {
  /** Extensions the database has, besides plpgsql. */
  extensions: string[];
  /** Enum types, values in sort order (`schema.name` outside `public`). */
  enums: Record<string, string[]>;
  tables: TableContract[];
  hypertables: HypertableContract[];
  // What follows is absent where the schema has none of it.
  /** Schemas the migrations create, besides `public` and knex's. */
  schemas?: string[];
  /** View name -> its query (pg_get_viewdef); compared by meaning. */
  views?: Record<string, string>;
  materializedViews?: Record<string, string>;
  continuousAggregates?: Record<string, ContinuousAggregateContract>;
  /** `schema.name(argument types)` -> its CREATE FUNCTION statement (pg_get_functiondef). */
  functions?: Record<string, string>;
  /** Sequence name -> `type, start …, increment …, min …, max …, cache …[, cycle][, owned by table.column]`. */
  sequences?: Record<string, string>;
  policies?: PolicyContract[];
  /** ALTER DATABASE … SET name = value. */
  settings?: Record<string, string>;
  /** `table tickers to reporting` -> `SELECT, INSERT` (`*` after a privilege given WITH GRANT OPTION). */
  grants?: Record<string, string>;
  /** `table tickers`, `column tickers.symbol`, `view v`, … -> the comment. */
  comments?: Record<string, string>;
}

const col = (name: string, type: string, notNull = false, dflt?: string): ColumnContract =>
  dflt === undefined ? { name, type, notNull } : { name, type, notNull, default: dflt };
const TSTZ = 'timestamp with time zone';
const createdAt = (name = 'created_at') => col(name, TSTZ, true, 'now()');
const money = (name: string) => col(name, 'numeric(12,4)');
const cascadeTo = (columns: string, target: string) => `FOREIGN KEY (${columns}) REFERENCES ${target} ON DELETE CASCADE`;
const between = (column: string, low: number, high: number, numeric = false) => {
  const [lo, hi] = numeric ? [`(${low})::numeric`, `(${high})::numeric`] : [low, high];
  return `CHECK (((${column} >= ${lo}) AND (${column} <= ${hi})))`;
};

export const CONTRACT: SchemaContract = {
  extensions: ['timescaledb'],
  enums: {
    option_type: ['C', 'P'],
    recommendation_direction: ['LONG', 'SHORT', 'NEUTRAL'],
    recommendation_action: ['BUY', 'SELL', 'HOLD', 'HEDGE'],
    option_strategy: ['LONG_CALL', 'LONG_PUT', 'CSP', 'VERTICAL_SPREAD'],
    recommendation_status: ['active', 'closed', 'expired'],
    outcome_status: ['WIN', 'LOSS', 'NEUTRAL'],
  },
  tables: [
    {
      name: 'tickers',
      columns: [
        col('id', 'uuid', true, 'gen_random_uuid()'),
        col('symbol', 'character varying(20)', true),
        col('name', 'character varying(255)'),
        col('sector', 'character varying(100)'),
        col('is_active', 'boolean', true, 'true'),
        createdAt(),
      ],
      constraints: {
        tickers_pkey: 'PRIMARY KEY (id)',
        tickers_symbol_unique: 'UNIQUE (symbol)',
      },
      indexes: {
        tickers_pkey: 'UNIQUE btree (id)',
        tickers_symbol_unique: 'UNIQUE btree (symbol)',
      },
    },
    {
      name: 'ohlcv',
      columns: [
        col('ticker_id', 'uuid', true),
        col('date', 'date', true),
        col('open', 'numeric'),
        col('high', 'numeric'),
        col('low', 'numeric'),
        col('close', 'numeric'),
        col('volume', 'bigint'),
        createdAt(),
      ],
      constraints: {
        ohlcv_pkey: 'PRIMARY KEY (ticker_id, date)',
        ohlcv_ticker_id_foreign: cascadeTo('ticker_id', 'tickers(id)'),
      },
      indexes: {
        ohlcv_pkey: 'UNIQUE btree (ticker_id, date)',
        ohlcv_date_idx: 'btree (date DESC)', // made by create_hypertable: the cross-section's index
      },
    },
    {
      name: 'options_chains',
      columns: [
        col('time', TSTZ, true),
        col('ticker_id', 'uuid', true),
        col('expiration_date', 'date', true),
        col('strike_price', 'numeric(12,4)', true),
        col('option_type', 'option_type', true),
        money('bid'),
        money('ask'),
        money('last'),
        col('volume', 'integer'),
        col('open_interest', 'integer'),
        ...['implied_volatility', 'delta', 'gamma', 'theta', 'vega'].map((n) => col(n, 'numeric(10,6)')),
        createdAt(),
      ],
      constraints: {
        options_chains_pkey: 'PRIMARY KEY ("time", ticker_id, expiration_date, strike_price, option_type)',
        options_chains_ticker_id_foreign: cascadeTo('ticker_id', 'tickers(id)'),
      },
      indexes: {
        options_chains_pkey: 'UNIQUE btree ("time", ticker_id, expiration_date, strike_price, option_type)',
        options_chains_ticker_id_time_index: 'btree (ticker_id, "time")',
      },
    },
    {
      name: 'daily_snapshots',
      columns: [
        col('time', TSTZ, true),
        col('ticker_id', 'uuid', true),
        col('wyckoff_phase', 'character varying(1)'),
        col('phase_score', 'numeric(6,3)'),
        col('phase_confidence', 'numeric(4,3)'),
        col('events_detected', 'text[]'),
        col('primary_event', 'character varying(20)'),
        col('events_json', 'jsonb'),
        col('bc_score', 'integer'),
        col('spring_score', 'integer'),
        col('composite_score', 'numeric(6,2)'),
        col('technical_indicators_json', 'jsonb'),
        col('dealer_metrics_json', 'jsonb'),
        col('volatility_metrics_json', 'jsonb'),
        col('price_metrics_json', 'jsonb'),
        col('model_version', 'character varying(50)'),
        createdAt(),
      ],
      constraints: {
        daily_snapshots_pkey: 'PRIMARY KEY ("time", ticker_id)',
        daily_snapshots_ticker_id_foreign: cascadeTo('ticker_id', 'tickers(id)'),
        daily_snapshots_wyckoff_phase_check:
          "CHECK (((wyckoff_phase)::text = ANY ((ARRAY['A'::character varying, 'B'::character varying, 'C'::character varying, 'D'::character varying, 'E'::character varying])::text[])))",
        daily_snapshots_phase_confidence_check: between('phase_confidence', 0, 1, true),
        daily_snapshots_bc_score_check: between('bc_score', 0, 28),
        daily_snapshots_spring_score_check: between('spring_score', 0, 12),
      },
      indexes: {
        daily_snapshots_pkey: 'UNIQUE btree ("time", ticker_id)',
        daily_snapshots_ticker_id_time_index: 'btree (ticker_id, "time")',
      },
    },
    {
      name: 'recommendations',
      columns: [
        col('id', 'uuid', true, 'gen_random_uuid()'),
        col('snapshot_time', TSTZ, true),
        col('ticker_id', 'uuid', true),
        col('recommendation_date', 'date', true),
        col('direction', 'recommendation_direction', true),
        col('action', 'recommendation_action', true),
        col('confidence', 'numeric(4,3)'),
        col('justification', 'text'),
        money('entry_price_target'),
        money('stop_loss'),
        money('profit_target'),
        col('risk_reward_ratio', 'numeric(6,2)'),
        money('option_strike'),
        col('option_expiration', 'date'),
        col('option_type', 'option_type'),
        col('option_strategy', 'option_strategy'),
        col('status', 'recommendation_status', true, "'active'::recommendation_status"),
        col('model_version', 'character varying(50)'),
        createdAt(),
      ],
      constraints: {
        recommendations_pkey: 'PRIMARY KEY (id)',
        recommendations_ticker_id_foreign: cascadeTo('ticker_id', 'tickers(id)'),
        // No cascade: a snapshot that a recommendation rests on is not deleted under it.
        recommendations_snapshot_time_ticker_id_foreign:
          'FOREIGN KEY (snapshot_time, ticker_id) REFERENCES daily_snapshots("time", ticker_id)',
        recommendations_confidence_check: between('confidence', 0, 1, true),
      },
      indexes: {
        recommendations_pkey: 'UNIQUE btree (id)',
        recommendations_ticker_id_recommendation_date_index: 'btree (ticker_id, recommendation_date)',
        recommendations_snapshot_time_ticker_id_index: 'btree (snapshot_time, ticker_id)',
      },
    },
    {
      name: 'recommendation_outcomes',
      columns: [
        col('id', 'uuid', true, 'gen_random_uuid()'),
        col('recommendation_id', 'uuid', true),
        col('evaluation_date', 'date', true),
        col('evaluation_window_days', 'integer'),
        money('entry_price_actual'),
        money('exit_price_actual'),
        money('high_price_during_window'),
        money('low_price_during_window'),
        col('days_held', 'integer'),
        col('direction_correct', 'boolean'),
        col('predicted_confidence', 'numeric(4,3)'),
        col('directional_brier', 'numeric(6,4)'),
        col('actual_return_pct', 'numeric(8,4)'),
        col('hit_profit_target', 'boolean'),
        col('hit_stop_loss', 'boolean'),
        col('outcome_status', 'outcome_status'),
        col('notes', 'text'),
        createdAt('evaluated_at'),
      ],
      constraints: {
        recommendation_outcomes_pkey: 'PRIMARY KEY (id)',
        recommendation_outcomes_recommendation_id_foreign: cascadeTo('recommendation_id', 'recommendations(id)'),
      },
      indexes: {
        recommendation_outcomes_pkey: 'UNIQUE btree (id)',
        recommendation_outcomes_recommendation_id_index: 'btree (recommendation_id)',
      },
    },
  ],
  hypertables: [{ table: 'ohlcv', timeColumn: 'date', chunkInterval: '365 days' }],
};

export const TABLE_NAMES = CONTRACT.tables.map((t) => t.name);
