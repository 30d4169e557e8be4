// `npm run db:setup`: from a fresh checkout to a migrated development database in one
// command. Without Docker it first makes sure the local PostgreSQL has TimescaleDB
// (installing it when it may); then db:up, then db:migrate --wait. Running it twice is harmless.
import type { CommandModule } from 'yargs';
import { dbUp, DbUpOptions, dockerEngineAnswers } from './lib/server/devServer';
import { runCli } from './lib/cli/cli';
import { DEFAULT_PG_BIN } from './lib/server/localCluster';
import { log } from './lib/cli/log';
import { provisionTimescale } from './lib/server/provision';
import { loadSettings, maskUrl } from './lib/server/settings';
import { migrate } from './lib/migrations/migrate';

export interface SetupOptions extends DbUpOptions {
  /** How long to wait for the server to accept connections before migrating. */
  waitMs: number;
  /** Installs TimescaleDB for the local binaries when missing (tests pass their own). */
  provision?: (binDir: string) => void;
}

export interface SetupResult {
  /** The development database, on whichever server db:up brought up. */
  url: string;
  /** Migrations applied by this run (none on a second run). */
  applied: string[];
}

export async function setup(o: SetupOptions): Promise<SetupResult> {
  const docker = o.docker ?? dockerEngineAnswers();
  // The compose service runs the timescale/timescaledb image: nothing to install locally.
  if (!docker) (o.provision ?? provisionTimescale)(o.binDir);
  // db:up's database, not DATABASE_URL's: setup is about the server it just started.
  const url = await dbUp({ ...o, docker });
  const applied = await migrate(loadSettings({ env: 'development', databaseUrl: url }), { waitMs: o.waitMs });
  log(`set up: ${maskUrl(url)} (stop it with \`npm run db:down\`)`);
  return { url, applied };
}

export const command: CommandModule<object, { docker?: boolean; 'pg-bin': string; 'wait-timeout': number }> = {
  command: 'db:setup',
  describe: 'Start the development TimescaleDB and migrate it; without Docker, install TimescaleDB first when missing (needs root or sudo)',
  builder: (y) => y
    .option('docker', { type: 'boolean', describe: 'force docker compose (--docker) or the local binaries (--no-docker); default: docker when its engine answers' })
    .option('pg-bin', { type: 'string', default: process.env.PG_BIN || DEFAULT_PG_BIN, describe: 'folder of the local PostgreSQL 15 binaries (PG_BIN)' })
    .option('wait-timeout', { type: 'number', default: 60, describe: 'seconds to wait for the server before migrating' }),
  handler: async (args) => {
    await setup({ docker: args.docker, binDir: args['pg-bin'], waitMs: args['wait-timeout'] * 1000 });
  },
};

if (require.main === module) runCli(command, 'npm run db:setup --');
