// Each table's footprint, each hypertable's chunks, and on TimescaleDB's community build its
// compression and jobs: all from the catalog, the statistics (rows are estimates, as of the last
// ANALYZE) and TimescaleDB's chunk metadata; no table is read.
import type { Client } from 'pg';
import { inScope, notBookkeeping, qualifiedName } from '../schema/read/scope';

export interface TableSize {
  name: string;
  hypertable: boolean;
  bytes: number;
  /** Estimated from the statistics; null where the table was never analyzed. */
  rows: number | null;
}

export interface Chunk {
  name: string;
  from: string;
  to: string;
  compressed: boolean;
  bytes: number;
  rows: number | null;
}

export interface Hypertable {
  name: string;
  chunkInterval: string;
  chunks: Chunk[];
  /** Where compression is enabled and the server's build has it. */
  compression?: { segmentBy: string; orderBy: string; compressedChunks: number; beforeBytes: number; afterBytes: number };
}

export interface Job {
  id: number;
  /** `retention`, `compression`, … or the procedure's name. */
  kind: string;
  on: string | null;
  schedule: string;
  scheduled: boolean;
  config: string;
  lastRunStarted: string | null;
  lastSuccess: string | null;
  lastStatus: string | null;
  nextStart: string | null;
  runs: number;
  failures: number;
}

export interface Storage {
  tables: TableSize[];
  hypertables: Hypertable[];
  /** TimescaleDB's build: `timescale` (community, with compression and policies) or `apache`; null without TimescaleDB. */
  license: string | null;
  /** Jobs of the database's own (policies and add_job), with their statistics. */
  jobs: Job[];
}

const KINDS: Record<string, string> = {
  policy_retention: 'retention', policy_compression: 'compression', policy_refresh_continuous_aggregate: 'refresh', policy_reorder: 'reorder',
};

const estimate = (reltuples: number) => (reltuples < 0 ? null : Math.round(reltuples));

export async function readStorage(client: Client, timescale: { version: string | null; license: string | null }): Promise<Storage> {
  const hypertableNames = timescale.version
    ? (await client.query(`SELECT ${qualifiedName('hypertable_schema', 'hypertable_name')} AS name, hypertable_schema AS schema, hypertable_name AS table,
          compression_enabled FROM timescaledb_information.hypertables ORDER BY 1`)).rows
    : [];
  const { rows: tables } = await client.query(`SELECT ${qualifiedName('n.nspname', 'c.relname')} AS name, c.oid, c.reltuples::float8 AS reltuples,
        pg_total_relation_size(c.oid)::float8 AS bytes
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND ${inScope('n.oid')} AND ${notBookkeeping}
       AND n.nspname NOT IN ('_timescaledb_internal', '_timescaledb_catalog', '_timescaledb_config', '_timescaledb_cache', '_timescaledb_functions', 'timescaledb_information', 'timescaledb_experimental')`);
  const hypertables: Hypertable[] = [];
  const sizes = new Map<string, { bytes: number; rows: number | null }>();
  for (const h of hypertableNames) {
    const { rows: chunks } = await client.query(`SELECT c.chunk_name AS name, c.range_start::text AS "from", c.range_end::text AS "to", c.is_compressed AS compressed,
          coalesce(s.total_bytes, 0)::float8 AS bytes, k.reltuples::float8 AS reltuples, z.numrows_pre_compression::float8 AS compressed_rows
        FROM timescaledb_information.chunks c
        LEFT JOIN chunks_detailed_size(format('%I.%I', $1::name, $2::name)::regclass) s ON s.chunk_schema = c.chunk_schema AND s.chunk_name = c.chunk_name
        LEFT JOIN pg_class k ON k.oid = format('%I.%I', c.chunk_schema, c.chunk_name)::regclass
        LEFT JOIN _timescaledb_catalog.chunk ch ON ch.schema_name = c.chunk_schema AND ch.table_name = c.chunk_name
        LEFT JOIN _timescaledb_catalog.compression_chunk_size z ON z.chunk_id = ch.id
       WHERE c.hypertable_schema = $1 AND c.hypertable_name = $2
       ORDER BY c.range_start`, [h.schema, h.table]);
    const { rows: [dimension] } = await client.query(`SELECT coalesce(time_interval::text, integer_interval::text) AS interval FROM timescaledb_information.dimensions
       WHERE hypertable_schema = $1 AND hypertable_name = $2 ORDER BY dimension_number LIMIT 1`, [h.schema, h.table]);
    const hypertable: Hypertable = {
      name: h.name, chunkInterval: dimension?.interval ?? '',
      chunks: chunks.map((c): Chunk => ({
        name: c.name, from: c.from, to: c.to, compressed: c.compressed, bytes: c.bytes,
        rows: c.compressed && c.compressed_rows !== null ? c.compressed_rows : estimate(c.reltuples ?? -1),
      })),
    };
    if (h.compression_enabled && timescale.license === 'timescale') {
      const { rows: [settings] } = await client.query(`SELECT coalesce(segmentby, '') AS segment_by, coalesce(orderby, '') AS order_by
          FROM timescaledb_information.hypertable_compression_settings WHERE hypertable = format('%I.%I', $1::name, $2::name)::regclass`, [h.schema, h.table]);
      const { rows: [stats] } = await client.query(`SELECT coalesce(number_compressed_chunks, 0)::int AS compressed,
          coalesce(before_compression_total_bytes, 0)::float8 AS before, coalesce(after_compression_total_bytes, 0)::float8 AS after
          FROM hypertable_compression_stats(format('%I.%I', $1::name, $2::name)::regclass)`, [h.schema, h.table]);
      hypertable.compression = {
        segmentBy: settings?.segment_by ?? '', orderBy: settings?.order_by ?? '',
        compressedChunks: stats?.compressed ?? 0, beforeBytes: stats?.before ?? 0, afterBytes: stats?.after ?? 0,
      };
    }
    hypertables.push(hypertable);
    const known = hypertable.chunks.filter((c) => c.rows !== null);
    sizes.set(h.name, {
      bytes: hypertable.chunks.reduce((n, c) => n + c.bytes, 0),
      rows: hypertable.chunks.length === 0 ? 0 : known.length === 0 ? null : known.reduce((n, c) => n + c.rows!, 0),
    });
  }
  const jobs: Job[] = !timescale.version ? [] : (await client.query(`SELECT j.job_id AS id, j.proc_name, j.proc_schema,
        CASE WHEN j.hypertable_name IS NULL THEN NULL ELSE ${qualifiedName('j.hypertable_schema', 'j.hypertable_name')} END AS on,
        j.schedule_interval::text AS schedule, j.scheduled, coalesce(j.config::text, '') AS config,
        s.last_run_started_at::text AS "lastRunStarted", s.last_successful_finish::text AS "lastSuccess", s.last_run_status AS "lastStatus",
        s.next_start::text AS "nextStart", coalesce(s.total_runs, 0)::int AS runs, coalesce(s.total_failures, 0)::int AS failures
      FROM timescaledb_information.jobs j LEFT JOIN timescaledb_information.job_stats s ON s.job_id = j.job_id
     WHERE j.job_id >= 1000 ORDER BY j.job_id`)).rows.map((j): Job => ({
    id: j.id, kind: KINDS[j.proc_name] ?? `${j.proc_schema}.${j.proc_name}`, on: j.on, schedule: j.schedule, scheduled: j.scheduled, config: j.config,
    lastRunStarted: j.lastRunStarted, lastSuccess: j.lastSuccess, lastStatus: j.lastStatus, nextStart: j.nextStart, runs: j.runs, failures: j.failures,
  }));
  return {
    tables: tables.map((t): TableSize => {
      const h = sizes.get(t.name);
      return h ? { name: t.name, hypertable: true, ...h } : { name: t.name, hypertable: false, bytes: t.bytes, rows: estimate(t.reltuples) };
    }).sort((a, b) => b.bytes - a.bytes || a.name.localeCompare(b.name)),
    hypertables, license: timescale.license, jobs,
  };
}
