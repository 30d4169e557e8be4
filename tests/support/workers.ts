// TimescaleDB starts a scheduler (a background worker) for a database with the extension only
// when the server has a worker slot free; on a shared server other databases may hold them all.
import { Client } from 'pg';

// PostgreSQL's own processes in pg_stat_activity that are not background workers (PostgreSQL 15).
const NOT_BGWORKERS = ['client backend', 'autovacuum launcher', 'autovacuum worker', 'background writer', 'checkpointer',
  'walwriter', 'walsender', 'walreceiver', 'startup', 'archiver', 'logger', 'standalone backend'];

/**
 * How many more TimescaleDB workers the server could start now: the slots left under
 * timescaledb.max_background_workers (schedulers and jobs; its launcher is not counted there)
 * and under max_worker_processes (every background worker, the launcher included).
 */
export async function freeWorkerSlots(c: Client): Promise<{ free: number; reason: string }> {
  const { rows: [r] } = await c.query(`SELECT
      current_setting('max_worker_processes')::int AS max_all,
      current_setting('timescaledb.max_background_workers')::int AS max_ts,
      count(*) FILTER (WHERE backend_type <> ALL ($1))::int AS used_all,
      count(*) FILTER (WHERE backend_type LIKE 'TimescaleDB%' AND backend_type NOT LIKE '%Launcher')::int AS used_ts
    FROM pg_stat_activity`, [NOT_BGWORKERS]);
  const free = Math.min(r.max_ts - r.used_ts, r.max_all - r.used_all);
  return { free, reason: `max_worker_processes ${r.max_all} with ${r.used_all} background workers running, timescaledb.max_background_workers ${r.max_ts} with ${r.used_ts} in use` };
}
