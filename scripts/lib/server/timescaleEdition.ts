// Which TimescaleDB a database runs: its version, and its license, which tells the build apart.
// 'timescale' is the community build, with the TSL part (compression, retention and compression
// policies, continuous aggregates); 'apache' is the Apache build (what Debian's source package
// gives), or a community build started with timescaledb.license = 'apache'. The license is set
// in postgresql.conf or on the server's command line only: TimescaleDB refuses it per database,
// role or session ("Cannot change a license in a running session").
import type { Queryable } from './session';

export interface TimescaleEdition {
  /** The server's PostgreSQL version ('15.20 (Debian 15.20-0+deb12u1)'): a minor can matter as much as the build. */
  postgres: string;
  /** The extension's version in this database; null where it is not created. */
  version: string | null;
  /** timescaledb.license; null where the extension is not loaded and postgresql.conf does not set it. */
  license: string | null;
}

/** The edition as the session's database has it (the license is known once the extension is created there). */
export async function readTimescaleEdition(c: Queryable): Promise<TimescaleEdition> {
  const { rows: [r] } = await c.query(`SELECT current_setting('server_version') AS postgres,
    (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS version, current_setting('timescaledb.license', true) AS license`);
  return { postgres: r.postgres as string, version: (r.version as string | null) ?? null, license: (r.license as string | null) ?? null };
}

const BUILD: Record<string, string> = { timescale: 'the community build', apache: 'the Apache build' };

/** "PostgreSQL 15.20 (Debian 15.20-0+deb12u1), TimescaleDB 2.19.3, timescaledb.license = timescale (the community build)". */
export function describeEdition(e: TimescaleEdition): string {
  if (!e.version) return `PostgreSQL ${e.postgres}, no TimescaleDB`;
  return `PostgreSQL ${e.postgres}, TimescaleDB ${e.version}, timescaledb.license = ${e.license ?? 'unknown'}${e.license && BUILD[e.license] ? ` (${BUILD[e.license]})` : ''}`;
}
