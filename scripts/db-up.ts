// `npm run db:up`: bring up the development TimescaleDB. Running it twice is harmless.
import type { Argv } from 'yargs';
import type { KapmanCommand } from './command';
import { positivePort } from './lib/cli/cli';
import { dbUp } from './lib/server/devServer';
import { DEFAULT_PG_BIN } from './lib/server/localCluster';

/** The options of up, down and setup: which path, which binaries, and (up, setup) which port. */
export function devServerOptions(y: Argv, o: { port: boolean }): Argv {
  y = y
    .option('docker', { type: 'boolean', describe: 'force docker compose (--docker) or the local binaries (--no-docker); default: docker when its engine answers' })
    .option('pg-bin', { type: 'string', default: process.env.PG_BIN || DEFAULT_PG_BIN, defaultDescription: `PG_BIN, else ${DEFAULT_PG_BIN}`, describe: 'folder of the local PostgreSQL 15 binaries' });
  // No yargs type: `abc` reaches positivePort as written.
  // KAPMAN_DB_PORT is also what docker-compose.yml publishes.
  return o.port ? y.option('port', {
    default: process.env.KAPMAN_DB_PORT || 5432, defaultDescription: 'KAPMAN_DB_PORT, else 5432',
    requiresArg: true, coerce: positivePort, describe: 'the TCP port the server listens on (127.0.0.1)',
  }) : y;
}

export const command: KapmanCommand<{ docker?: boolean; 'pg-bin': string; port: number }, { url: string }> = {
  database: false,
  options: (y) => devServerOptions(y, { port: true }),
  run: async (args) => ({ url: (await dbUp({ docker: args.docker, binDir: args['pg-bin'], cluster: { port: args.port } })).displayUrl }),
  outcome: (r) => `ready: ${r.url}`,
};
