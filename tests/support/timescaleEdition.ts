// TimescaleDB's two builds in the tests. A test that needs the community build (compression,
// policies: the TSL part) calls requireCommunityBuild first: on the Apache build it fails, in one
// line naming the license found and where the community build comes from; it never skips.
// startApacheServer gives a server that runs as the Apache build does, for tests of what users of
// that build meet: TimescaleDB takes its license from postgresql.conf or the server's command
// line only (never per database, role or session), so it is a server of its own.
import type { Client } from 'pg';
import { COMMUNITY_BUILD_SOURCES } from '../../scripts/lib/cli/errors';
import { DEFAULT_PG_BIN, localBinariesProblem } from '../../scripts/lib/server/localCluster';
import { startThrowawayCluster, TestServer, tryTestcontainers } from '../../scripts/lib/server/testServer';
import { describeEdition, readTimescaleEdition } from '../../scripts/lib/server/timescaleEdition';

/** Fails, naming the license and where the community build comes from, unless `c`'s database runs TimescaleDB's community build. */
export async function requireCommunityBuild(c: Client): Promise<void> {
  const edition = await readTimescaleEdition(c);
  if (edition.version && edition.license === 'timescale') return;
  throw new Error(`this test needs TimescaleDB's community build (compression, policies), and its server runs ${describeEdition(edition)}: use ${COMMUNITY_BUILD_SOURCES}`);
}


/** A throwaway server whose TimescaleDB runs under the Apache license: from the local binaries (PG_BIN), else a container of the pinned image. */
export async function startApacheServer(): Promise<TestServer> {
  const binDir = process.env.PG_BIN || DEFAULT_PG_BIN;
  const problem = localBinariesProblem(binDir);
  if (!problem) return startThrowawayCluster(binDir, true, { extraSettings: ["timescaledb.license = 'apache'"] });
  const reasons = [problem];
  const container = await tryTestcontainers(reasons, ['timescaledb.license=apache']);
  if (container) return container;
  throw new Error(`this test starts a server of its own with timescaledb.license = 'apache', and cannot here (${reasons.join('; ')}): `
    + 'it needs PostgreSQL 15 with TimescaleDB in PG_BIN, or a Docker engine');
}
