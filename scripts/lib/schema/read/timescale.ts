// TimescaleDB's part of the schema, from its own catalog views and by name, never by its ids
// (two builds need not number hypertables or jobs alike): each hypertable's dimensions and
// compression settings, its policies and other jobs, and the continuous aggregates.
import type { ContinuousAggregateContract, HypertableContract, PolicyContract } from '../../../../db/contract';
import { inScope, qualifiedName, Query } from './scope';

export interface Timescale {
  hypertables: HypertableContract[];
  policies: PolicyContract[];
  continuousAggregates: Record<string, ContinuousAggregateContract>;
}

/** Jobs below this id are TimescaleDB's own, in every database (telemetry, its job history's retention). */
const FIRST_USER_JOB = 1000;

const POLICY_KINDS: Record<string, string> = {
  '_timescaledb_functions.policy_retention': 'retention',
  '_timescaledb_functions.policy_compression': 'compression',
  '_timescaledb_functions.policy_refresh_continuous_aggregate': 'refresh',
  '_timescaledb_functions.policy_reorder': 'reorder',
};

/**
 * What a job of each kind gets when it is made without saying (TimescaleDB 2.19's add_*_policy
 * and add_job): a job reads as a difference only where alter_job changed one of these. Its
 * initial start is left out: it is the time the job was made, another in every build.
 */
export const JOB_DEFAULTS: Record<string, { maxRuntime: string; maxRetries: number; retryPeriod: string; fixedSchedule: boolean; check: string }> = {
  retention: { maxRuntime: '00:05:00', maxRetries: -1, retryPeriod: '00:05:00', fixedSchedule: false, check: '_timescaledb_functions.policy_retention_check' },
  compression: { maxRuntime: '00:00:00', maxRetries: -1, retryPeriod: '01:00:00', fixedSchedule: false, check: '_timescaledb_functions.policy_compression_check' },
  refresh: { maxRuntime: '00:00:00', maxRetries: -1, retryPeriod: '01:00:00', fixedSchedule: false, check: '_timescaledb_functions.policy_refresh_continuous_aggregate_check' },
  reorder: { maxRuntime: '00:00:00', maxRetries: -1, retryPeriod: '00:05:00', fixedSchedule: false, check: '_timescaledb_functions.policy_reorder_check' },
  job: { maxRuntime: '00:00:00', maxRetries: -1, retryPeriod: '00:05:00', fixedSchedule: true, check: 'none' },
};

/** A job's configuration without the ids TimescaleDB keeps in it (two builds need not share them), keys in order. */
function withoutIds(config: Record<string, unknown> | null): Record<string, unknown> {
  return Object.fromEntries(Object.entries(config ?? {}).filter(([k]) => k !== 'hypertable_id' && k !== 'mat_hypertable_id')
    .sort(([a], [b]) => a.localeCompare(b)));
}

/** Each hypertable with its dimensions and compression settings. */
export async function readHypertables(q: Query): Promise<HypertableContract[]> {
  const hypertables = new Map<string, HypertableContract>();
  // integer_now_func by its schema too, from the catalog (the information view names the function only).
  for (const d of await q(`SELECT ${qualifiedName('i.hypertable_schema', 'i.hypertable_name')} AS name, i.dimension_number, i.column_name, i.dimension_type,
        coalesce(i.time_interval::text, i.integer_interval::text) AS interval, i.num_partitions,
        CASE WHEN c.integer_now_func IS NOT NULL THEN ${qualifiedName('c.integer_now_func_schema', 'c.integer_now_func')} END AS now_func
      FROM timescaledb_information.dimensions i JOIN pg_namespace n ON n.nspname = i.hypertable_schema
        JOIN (SELECT h.schema_name, h.table_name, d.column_name, d.integer_now_func_schema, d.integer_now_func
          FROM _timescaledb_catalog.dimension d JOIN _timescaledb_catalog.hypertable h ON h.id = d.hypertable_id) c
          ON c.schema_name = i.hypertable_schema AND c.table_name = i.hypertable_name AND c.column_name = i.column_name
      WHERE ${inScope('n.oid')} ORDER BY 1, i.dimension_number`)) {
    const h = hypertables.get(d.name);
    if (!h) {
      const made: HypertableContract = { table: d.name, timeColumn: d.column_name, chunkInterval: d.interval };
      if (d.now_func) made.integerNow = d.now_func;
      hypertables.set(d.name, made);
      continue;
    }
    const how = d.num_partitions === null ? `range, interval ${d.interval}` : `hash, ${d.num_partitions} partitions`;
    (h.dimensions ??= []).push(`${d.column_name}: ${how}`);
  }
  for (const s of await q(`SELECT ${qualifiedName('n.nspname', 'c.relname')} AS name, coalesce(s.segmentby, '') AS segmentby, coalesce(s.orderby, '') AS orderby
      FROM timescaledb_information.hypertable_compression_settings s JOIN pg_class c ON c.oid = s.hypertable::oid
      JOIN pg_namespace n ON n.oid = c.relnamespace JOIN timescaledb_information.hypertables h
        ON h.hypertable_schema = n.nspname AND h.hypertable_name = c.relname AND h.compression_enabled`)) {
    const h = hypertables.get(s.name);
    if (h) h.compression = { segmentBy: s.segmentby, orderBy: s.orderby };
  }
  for (const t of await q(`SELECT ${qualifiedName('hypertable_schema', 'hypertable_name')} AS name, tablespaces::text[] AS tablespaces
      FROM timescaledb_information.hypertables WHERE tablespaces IS NOT NULL`)) {
    const h = hypertables.get(t.name);
    if (h) h.tablespaces = t.tablespaces;
  }
  return [...hypertables.values()];
}

export async function readTimescale(q: Query): Promise<Timescale> {
  const hypertables = await readHypertables(q);
  const continuousAggregates: Record<string, ContinuousAggregateContract> = {};
  const materializedBy = new Map<string, string>();
  for (const c of await q(`SELECT ${qualifiedName('view_schema', 'view_name')} AS name, view_definition, materialized_only,
        materialization_hypertable_schema || '.' || materialization_hypertable_name AS materialization
      FROM timescaledb_information.continuous_aggregates ORDER BY 1`)) {
    continuousAggregates[c.name] = { query: c.view_definition.trim(), materializedOnly: c.materialized_only };
    materializedBy.set(c.materialization, c.name);
  }
  // A refresh policy names the aggregate's materialization hypertable, by its id: the aggregate's name stands for it.
  const policies = (await q(`SELECT proc_schema || '.' || proc_name AS proc, hypertable_schema || '.' || hypertable_name AS on_internal,
        ${qualifiedName('hypertable_schema', 'hypertable_name')} AS on, schedule_interval::text AS schedule, config, scheduled,
        max_runtime::text, max_retries, retry_period::text, fixed_schedule, coalesce(check_schema || '.' || check_name, 'none') AS check_proc
      FROM timescaledb_information.jobs WHERE job_id >= ${FIRST_USER_JOB}`)).map((j): PolicyContract => {
    const kind = POLICY_KINDS[j.proc];
    const policy: PolicyContract = { kind: kind ?? j.proc, config: withoutIds(j.config), schedule: j.schedule };
    const on = materializedBy.get(j.on_internal) ?? j.on;
    if (on !== null) policy.on = on;
    if (!j.scheduled) policy.paused = true;
    const defaults = JOB_DEFAULTS[kind ?? 'job'];
    if (j.max_runtime !== defaults.maxRuntime) policy.maxRuntime = j.max_runtime;
    if (j.max_retries !== defaults.maxRetries) policy.maxRetries = j.max_retries;
    if (j.retry_period !== defaults.retryPeriod) policy.retryPeriod = j.retry_period;
    if (j.fixed_schedule !== defaults.fixedSchedule) policy.fixedSchedule = j.fixed_schedule;
    if (j.check_proc !== defaults.check) policy.check = j.check_proc;
    return policy;
  }).sort((a, b) => `${a.on ?? ''} ${a.kind} ${JSON.stringify(a.config)}`.localeCompare(`${b.on ?? ''} ${b.kind} ${JSON.stringify(b.config)}`));
  return { hypertables, policies, continuousAggregates };
}
