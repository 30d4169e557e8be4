// `npm run db:down`: stop the development TimescaleDB. Its data is kept: no volume or folder is deleted.
import type { KapmanCommand } from './lib/cli/cli';
import { compose, devClusterOptions, devServerOptions, useDocker } from './lib/server/devServer';
import { isInitialized, runningPort, stopCluster } from './lib/server/localCluster';
import { log } from './lib/cli/log';

export async function dbDown(o: { docker?: boolean; binDir: string; dataDir?: string }): Promise<void> {
  if (useDocker(o.docker)) {
    compose(['stop']);
    log('docker compose service stopped (volume kept)');
    return;
  }
  const dataDir = o.dataDir ?? devClusterOptions(o.binDir).dataDir;
  const port = isInitialized(dataDir) ? runningPort(dataDir) : undefined;
  if (port === undefined) return log('local server is not running');
  stopCluster(o.binDir, dataDir);
  log(`local server on 127.0.0.1:${port} stopped (data kept in ${dataDir})`);
}

export const command: KapmanCommand<{ docker?: boolean; 'pg-bin': string }> = {
  database: false,
  options: (y) => devServerOptions(y, { port: false }),
  run: async (args) => {
    await dbDown({ docker: args.docker, binDir: args['pg-bin'] });
  },
};
