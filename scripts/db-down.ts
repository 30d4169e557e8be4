// `npm run db:down`: stop the development TimescaleDB. Its data is kept: no volume or folder is deleted.
import type { KapmanCommand } from './command';
import { compose, devClusterOptions, useDocker } from './lib/server/devServer';
import { devServerOptions } from './db-up';
import { isInitialized, runningPort, stopCluster } from './lib/server/localCluster';
import { log } from './lib/cli/log';

/** Stops the server; returns what it did, in the words it printed. */
export async function dbDown(o: { docker?: boolean; binDir: string; dataDir?: string }): Promise<string> {
  const said = (fact: string) => (log(fact), fact);
  if (useDocker(o.docker)) {
    compose(['stop']);
    return said('docker compose service stopped (volume kept)');
  }
  const dataDir = o.dataDir ?? devClusterOptions(o.binDir).dataDir;
  const port = isInitialized(dataDir) ? runningPort(dataDir) : undefined;
  if (port === undefined) return said('local server is not running');
  stopCluster(o.binDir, dataDir);
  return said(`local server on 127.0.0.1:${port} stopped (data kept in ${dataDir})`);
}

export const command: KapmanCommand<{ docker?: boolean; 'pg-bin': string }, { outcome: string }> = {
  database: false,
  options: (y) => devServerOptions(y, { port: false }),
  run: async (args) => ({ outcome: await dbDown({ docker: args.docker, binDir: args['pg-bin'] }) }),
  outcome: (r) => r.outcome,
};
