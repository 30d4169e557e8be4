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

/** A job's configuration without the ids TimescaleDB keeps in it (two builds need not share them), keys in order. */
function withoutIds(config: Record<string, unknown> | null): Record<string, unknown> {
  return Object.fromEntries(Object.entries(config ?? {}).filter(([k]) => k !== 'hypertable_id' && k !== 'mat_hypertable_id')
    .sort(([a], [b]) => a.localeCompare(b)));
}

export async function readTimescale(q: Query): Promise<Timescale> {
  const hypertables = new Map<string, HypertableContract>();
  for (const d of await q(`SELECT ${qualifiedName('hypertable_schema', 'hypertable_name')} AS name, dimension_number, column_name, dimension_type,
        coalesce(time_interval::text, integer_interval::text) AS interval, num_partitions
      FROM timescaledb_information.dimensions JOIN pg_namespace n ON n.nspname = hypertable_schema
      WHERE ${inScope('n.oid')} ORDER BY 1, dimension_number`)) {
    const h = hypertables.get(d.name);
    if (!h) {
      hypertables.set(d.name, { table: d.name, timeColumn: d.column_name, chunkInterval: d.interval });
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
        ${qualifiedName('hypertable_schema', 'hypertable_name')} AS on, schedule_interval::text AS schedule, config, scheduled
      FROM timescaledb_information.jobs WHERE job_id >= ${FIRST_USER_JOB}`)).map((j): PolicyContract => {
    const policy: PolicyContract = { kind: POLICY_KINDS[j.proc] ?? j.proc, config: withoutIds(j.config), schedule: j.schedule };
    const on = materializedBy.get(j.on_internal) ?? j.on;
    if (on !== null) policy.on = on;
    if (!j.scheduled) policy.paused = true;
    return policy;
  }).sort((a, b) => `${a.on ?? ''} ${a.kind} ${JSON.stringify(a.config)}`.localeCompare(`${b.on ?? ''} ${b.kind} ${JSON.stringify(b.config)}`));
  return { hypertables: [...hypertables.values()], policies, continuousAggregates };
}
