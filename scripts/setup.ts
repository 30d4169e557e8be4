// `npm run db:setup`: from a fresh checkout to a migrated development database in one
// command. Without Docker it first makes sure the local PostgreSQL has TimescaleDB
// (installing it when it may); then db:up, then db:migrate --wait. Running it twice is harmless.
import { dbUp, DbUpOptions, useDocker } from './lib/server/devServer';
import { devServerOptions } from './db-up';
import type { KapmanCommand } from './command';
import { count, log } from './lib/cli/log';
import { machineFacts, provisionTimescale } from './lib/server/provision';
import { displayUrl } from './lib/server/connectionUrl';
import { migrate } from './lib/migrations/deploy';

export interface SetupOptions extends DbUpOptions {
  /** How long to wait for the server to accept connections before migrating. */
  waitMs: number;
  /** Installs TimescaleDB for the local binaries when missing (tests pass their own). */
  provision?: (binDir: string) => void;
  /** TIMESCALEDB_SOURCE: the install script then builds the community build from it. */
  timescaleSource?: string;
}

export interface SetupResult {
  /** The development database, on whichever server db:up brought up. */
  url: string;
  /** Migrations applied by this run (none on a second run). */
  applied: string[];
}

export async function setup(o: SetupOptions): Promise<SetupResult> {
  const docker = useDocker(o.docker);
  // The compose service runs the timescale/timescaledb image: nothing to install locally.
  if (!docker) (o.provision ?? ((binDir) => provisionTimescale(binDir, machineFacts(binDir, o.timescaleSource))))(o.binDir);
  // db:up's database, not DATABASE_URL's: setup is about the server it just started.
  const settings = await dbUp({ ...o, docker });
  const { applied } = await migrate(settings, { waitMs: o.waitMs });
  log(`set up: ${settings.displayUrl} (stop it with \`npm run db:down\`)`);
  return { url: settings.url, applied };
}

export const command: KapmanCommand<{ docker?: boolean; 'pg-bin': string; port: number; 'wait-timeout': number; 'lock-timeout': number }, SetupResult> = {
  database: false,
  shared: ['wait-timeout', 'lock-timeout', 'json'],
  options: (y) => devServerOptions(y, { port: true }),
  run: async (args) => {
    const { url, applied } = await setup({
      docker: args.docker, binDir: args['pg-bin'], cluster: { port: args.port }, waitMs: args['wait-timeout'] * 1000, lockTimeoutMs: args['lock-timeout'] * 1000,
      timescaleSource: process.env.TIMESCALEDB_SOURCE || undefined,
    });
    return { url: displayUrl(url), applied };
  },
  outcome: (r) => `set up: ${r.url}, ${count(r.applied.length, 'migration')} applied`,
};
