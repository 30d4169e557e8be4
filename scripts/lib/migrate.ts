// Running the migrations from the scripts: the knexfile's settings, knex's own logger
// silenced (errors are reported once, at the top), each file reported as it runs.
import knexFactory, { Knex } from 'knex';
import { MigrationFileError, MigrationFiles, MigrationReporter } from '../../db/migrationSource';
import { connect } from './connection';
import { explainDatabaseError, MigrationFailedError, PermissionDeniedError, TimescaleMissingError } from './errors';
import { log } from './log';
import { Settings } from './settings';

const quiet = { warn: () => undefined, error: () => undefined, deprecate: () => undefined, debug: () => undefined };

/** Prints each migration file as it starts and as it is done, with its duration. */
export const printingReporter: MigrationReporter = {
  started: (name, direction) => log(`${direction === 'up' ? 'applying' : 'reverting'} ${name}`),
  finished: (name, direction, ms) => log(`${direction === 'up' ? 'applied' : 'reverted'} ${name} (${Math.round(ms)} ms)`),
};

export interface MigrateOptions {
  reporter?: MigrationReporter;
  /** Another migrations folder (tests use temporary ones). */
  directory?: string;
  /** Sees every statement knex sends (the benchmark collects the DDL for its psql floor). */
  onQuery?: (sql: string, bindings: readonly unknown[]) => void;
}

export async function withKnex<T>(settings: Settings, o: MigrateOptions, work: (knex: Knex) => Promise<T>): Promise<T> {
  const source = new MigrationFiles(o.directory, o.reporter);
  const knex = knexFactory({ ...settings.knex, log: quiet, migrations: { ...settings.knex.migrations, migrationSource: source } });
  if (o.onQuery) knex.on('query', (q: { sql: string; bindings?: unknown[] }) => o.onQuery!(q.sql, q.bindings ?? []));
  try {
    return await work(knex);
  } catch (caught) {
    const err = source.lastFailure ?? caught;
    if (err instanceof MigrationFileError) {
      const explained = explainDatabaseError(err.cause, settings.displayUrl);
      if (explained instanceof TimescaleMissingError || explained instanceof PermissionDeniedError) throw explained;
      throw new MigrationFailedError(`migration ${err.migration} (${err.direction}) failed: ${(err.cause as Error)?.message ?? err.cause}`,
        `fix ${err.migration}; the batch ran in one transaction, so the database is still at its previous version`, { cause: err });
    }
    throw explainDatabaseError(err, settings.displayUrl);
  } finally {
    await knex.destroy();
  }
}

// Knex's own lock makes a concurrent twin fail ("Migration table is already locked");
// this session-level advisory lock makes it wait instead, then find nothing pending.
const MIGRATION_LOCK = "hashtext('kapman migrations')";

async function oneAtATime<T>(settings: Settings, work: () => Promise<T>): Promise<T> {
  const client = await connect(settings.url);
  try {
    await client.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK})`);
    return await work();
  } finally {
    await client.end().catch(() => undefined); // ending the session releases the lock
  }
}

/** Applies every pending migration in one batch; returns the files applied. */
export async function migrateLatest(settings: Settings, o: MigrateOptions = {}): Promise<string[]> {
  return oneAtATime(settings, () => withKnex(settings, o, async (knex) => {
    const [, applied] = await knex.migrate.latest();
    return applied as string[];
  }));
}

/** Reverts the last batch, or every batch with `all`; returns the files reverted. */
export async function rollback(settings: Settings, all: boolean, o: MigrateOptions = {}): Promise<string[]> {
  return oneAtATime(settings, () => withKnex(settings, o, async (knex) => {
    const [, reverted] = await knex.migrate.rollback(undefined, all);
    return reverted as string[];
  }));
}
