// `npm run db:up`: bring up the development TimescaleDB. Running it twice is harmless.
import type { CommandModule } from 'yargs';
import { runCli } from './lib/cli/cli';
import { dbUp } from './lib/server/devServer';
import { DEFAULT_PG_BIN } from './lib/server/localCluster';

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
