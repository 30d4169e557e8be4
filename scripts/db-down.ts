// `npm run db:down`: stop the development TimescaleDB. Its data is kept: no volume or folder is deleted.
import type { CommandModule } from 'yargs';
import { runCli } from './lib/cli/cli';
import { compose, devClusterOptions, dockerEngineAnswers } from './lib/server/devServer';
import { DEFAULT_PG_BIN, isInitialized, isRunning, stopCluster } from './lib/server/localCluster';
import { log } from './lib/cli/log';

export async function dbDown(o: { docker?: boolean; binDir: string; dataDir?: string }): Promise<void> {
  if (o.docker ?? dockerEngineAnswers()) {
    compose(['stop']);
    log('docker compose service stopped (volume kept)');
    return;
  }
  const dataDir = o.dataDir ?? devClusterOptions(o.binDir).dataDir;
  if (!isInitialized(dataDir) || !isRunning(o.binDir, dataDir)) return log('local server is not running');
  stopCluster(o.binDir, dataDir);
  log(`local server stopped (data kept in ${dataDir})`);
}

export const command: CommandModule<object, { docker?: boolean; 'pg-bin': string }> = {
  command: 'db:down',
  describe: 'Stop the development TimescaleDB; its data is kept',
  builder: (y) => y
    .option('docker', { type: 'boolean', describe: 'force docker compose (--docker) or the local binaries (--no-docker)' })
    .option('pg-bin', { type: 'string', default: process.env.PG_BIN || DEFAULT_PG_BIN, describe: 'folder of the local PostgreSQL 15 binaries (PG_BIN)' }),
  handler: (args) => dbDown({ docker: args.docker, binDir: args['pg-bin'] }),
};

if (require.main === module) runCli(command, 'npm run db:down --');
