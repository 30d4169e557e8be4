// `npm run db:up`: bring up the development TimescaleDB. Running it twice is harmless.
import type { CommandModule } from 'yargs';
import { DEFAULT_URLS } from '../knexfile';
import { createDatabase, databaseInfo } from './lib/admin';
import { runCli } from './lib/cli';
import { withMaintenanceClient } from './lib/connection';
import { compose, devClusterOptions, dockerEngineAnswers } from './lib/devServer';
import { ClusterOptions, clusterUrl, DEFAULT_PG_BIN, initCluster, isInitialized, isRunning, startCluster } from './lib/localCluster';
import { log } from './lib/log';
import { maskUrl } from './lib/settings';

export interface DbUpOptions {
  /** Use docker compose (true), the local binaries (false), or whichever answers (undefined). */
  docker?: boolean;
  /** Folder of the local PostgreSQL 15 binaries. */
  binDir: string;
  /** Another data folder or port than the development default (tests use their own). */
  cluster?: Partial<Pick<ClusterOptions, 'dataDir' | 'port'>>;
}

/** Returns the development database's URL, on whichever server it brought up. */
export async function dbUp(o: DbUpOptions): Promise<string> {
  if (o.docker ?? dockerEngineAnswers()) {
    log('starting the docker compose service (timescaledb)');
    compose(['up', '-d', '--wait']);
    log('docker compose service is up');
    return DEFAULT_URLS.development!;
  }
  const cluster = { ...devClusterOptions(o.binDir), ...o.cluster };
  if (isInitialized(cluster.dataDir)) {
    log(`local cluster exists in ${cluster.dataDir}`);
  } else {
    initCluster(cluster);
    log(`local cluster created in ${cluster.dataDir}`);
  }
  if (isRunning(o.binDir, cluster.dataDir)) {
    log('local server already running');
  } else {
    startCluster(o.binDir, cluster.dataDir);
    log(`local server started on 127.0.0.1:${cluster.port}`);
  }
  const url = clusterUrl(cluster, 'postgres');
  await withMaintenanceClient(url, async (c) => {
    if (await databaseInfo(c, cluster.database)) return log(`database ${cluster.database} exists`);
    await createDatabase(c, cluster.database);
    log(`database ${cluster.database} created`);
  });
  const ready = clusterUrl(cluster, cluster.database);
  log(`ready: ${maskUrl(ready)}`);
  return ready;
}

export const command: CommandModule<object, { docker?: boolean; 'pg-bin': string }> = {
  command: 'db:up',
  describe: 'Start the development TimescaleDB (docker compose, or a local cluster in .pgdata/ without Docker)',
  builder: (y) => y
    .option('docker', { type: 'boolean', describe: 'force docker compose (--docker) or the local binaries (--no-docker); default: docker when its engine answers' })
    .option('pg-bin', { type: 'string', default: process.env.PG_BIN || DEFAULT_PG_BIN, describe: 'folder of the local PostgreSQL 15 binaries (PG_BIN)' }),
  handler: async (args) => {
    await dbUp({ docker: args.docker, binDir: args['pg-bin'] });
  },
};

if (require.main === module) runCli(command, 'npm run db:up --');
