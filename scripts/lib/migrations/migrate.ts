// Running the migrations from the scripts: knex started from the settings (the config the knex
// CLI gets too), its own logger silenced (errors are reported once, at the top), each file
// reported as it runs, every run in one transaction, one run at a time per database.
import type { Knex } from 'knex';
import { MigrationFileError, MigrationFiles, MigrationReporter, MIGRATIONS_SCHEMA, MIGRATIONS_TABLE } from '../../../db/migrationSource';
import { escapeIdentifier, type Client } from 'pg';
import { knexQueryable, prepareTransaction } from '../server/session';
import { withClient, withTransaction } from '../server/connection';
import {
  ConnectionLostError, explainDatabaseError, LockTimeoutError, MigrationFailedError, MigrationFileMissingError, PermissionDeniedError, TimescaleMissingError, SquashRefusedError,
  TimescaleEditionError, KapmanError,
} from '../cli/errors';
import { describeBlocker, MIGRATIONS_LOCK, REPORT_WAIT_AFTER_MS, watchBlockers, withLock } from '../server/lock';
import { count, detail, log } from '../cli/log';
import { refuseSystemDatabase } from '../server/admin';
import { Settings } from '../server/settings';
import { readSquashedMigrations } from '../schema/introspect';
import { endsTransaction, splitStatements } from './statements';

const quiet = { warn: () => undefined, error: () => undefined, deprecate: () => undefined, debug: () => undefined };

/** Prints each migration file as it starts and as it is done, with its duration. */
export const printingReporter: MigrationReporter = {
  started: (name, direction) => detail(`${direction === 'up' ? 'applying' : 'reverting'} ${name}`),
  finished: (name, direction, ms) => detail(`${direction === 'up' ? 'applied' : 'reverted'} ${name} (${Math.round(ms)} ms)`),
};

export interface MigrateOptions {
  reporter?: MigrationReporter;
  /** Another migrations folder (tests use temporary ones). */
  directory?: string;
  /** Sees every statement knex sends (the benchmark collects the DDL for its psql floor). */
  onQuery?: (sql: string, bindings: readonly unknown[], migration?: string) => void;
}

/** The migration runner's own sessions, so a lock report can say who keeps them waiting. */
function trackingSessions(settings: Settings, pids: Set<number>): Knex.Config {
  const pool = settings.knex.pool!;
  return {
    ...settings.knex,
    log: quiet,
    // One session does it all (knex runs a batch in one transaction), so a reset needs few slots.
    pool: {
      ...pool,
      max: 1,
      afterCreate(conn: { processID: number }, done: (err?: Error) => void) {
        pids.add(conn.processID);
        pool.afterCreate!(conn, done);
      },
    },
  };
}

// A broken connection says nothing about the migration file: it is not "fix X".
const CONNECTION_LOST = /Connection terminated|terminating connection|server closed the connection|ECONNRESET|not queryable|the database system is (shutting down|in recovery mode)/i;

export function explainMigrationFailure(err: MigrationFileError, settings: Settings): KapmanError {
  const explained = explainDatabaseError(err.cause, settings.displayUrl);
  const cause = err.cause as { code?: string; message?: string };
  if (CONNECTION_LOST.test(String(cause?.message)) || /^57P0[1-3]$|^08/.test(cause?.code ?? '')) {
    return new ConnectionLostError(`the connection to the server was lost while ${err.direction === 'up' ? 'applying' : 'reverting'} ${err.migration}: ${cause?.message}`,
      `the database ${settings.database} is at its previous version (the batch is one transaction); rerun when the server is back`, { cause: err });
  }
  if (explained instanceof TimescaleMissingError || explained instanceof PermissionDeniedError || explained instanceof LockTimeoutError) return explained;
  // The server's words name what is missing; the migration itself is fine on the community build.
  if (explained instanceof TimescaleEditionError) {
    return new TimescaleEditionError(`migration ${err.migration} (${err.direction}) failed: ${explained.message}`,
      `${explained.hint}; the batch ran in one transaction, so ${settings.database} is still at its previous version`, { cause: err });
  }
  return new MigrationFailedError(`migration ${err.migration} (${err.direction}) failed: ${cause?.message ?? err.cause}`,
    `fix ${err.migration}; the batch ran in one transaction, so the database is still at its previous version`, { cause: err });
}

// Knex refuses to migrate when an applied migration's file is gone, calling the folder corrupt.
function explainMissingFiles(err: unknown, settings: Settings): Error | undefined {
  const missing = /migration directory is corrupt, the following files are missing: (.*)$/.exec(String((err as Error)?.message ?? ''));
  if (!missing) return undefined;
  return new MigrationFileMissingError(`${settings.database} has migrations applied whose files are not in db/migrations/: ${missing[1]}`,
    'bring the file back (`git log --all -- db/migrations/` finds it) or check out the branch that added it; `npm run db:status` lists them as [?]', { cause: err });
}

export interface WithKnexOptions extends MigrateOptions {
  /** A session that reports, after a while, who keeps the migration waiting for a lock. */
  watcher?: Client;
  /** Only these files of the folder count as migrations (a rehearsal builds a scratch database up to a point). */
  only?: readonly string[];
  /** The session to run the transaction on instead of one of knex's (in place: the one whose blockers are ended). */
  session?: Client;
}

/** The folder's migrations, or only some of them, in the same order. */
class SomeMigrationFiles extends MigrationFiles {
  constructor(directory: string | undefined, reporter: MigrationReporter | undefined, readonly only: readonly string[]) {
    super(directory, reporter);
  }

  async getMigrations(): Promise<string[]> {
    return (await super.getMigrations()).filter((f) => this.only.includes(f));
  }
}

/**
 * The knex CLI's migrations: db/migrations, a failed one thrown as db:migrate explains it (`explain`
 * finishes it for the CLI's printing), since knex would print the driver's words with the
 * statement twice and a stack.
 */
export class ExplainedMigrationFiles extends MigrationFiles {
  constructor(private readonly settings: () => Promise<Settings>, private readonly explain: (err: KapmanError) => Error) {
    super();
  }

  async getMigration(file: string): Promise<Knex.Migration> {
    const migration = await super.getMigration(file);
    const explained = (run: (knex: Knex) => PromiseLike<unknown>) => async (knex: Knex) => {
      try {
        await run(knex);
      } catch (err) {
        throw err instanceof MigrationFileError ? this.explain(explainMigrationFailure(err, await this.settings())) : err;
      }
    };
    return { ...migration, up: explained(migration.up), down: explained(migration.down!) };
  }
}

/**
 * Knex and its 300-odd modules, loaded on first use rather than at every command's start; a
 * reset calls this while the server creates its build database, so the two overlap.
 */
export function loadKnex(): typeof import('knex').knex {
  return require('knex').knex;
}

/**
 * A migration that runs in a transaction may not end it: a COMMIT would commit part of the batch
 * (and, in a rehearsal on the target, its work there), and the rest would run outside it. Thrown
 * from knex's query event, before the statement is sent.
 */
function refuseEndingTheTransaction(source: MigrationFiles, sql: string): void {
  const file = source.running;
  if (!file || !source.runsInTransaction(file)) return;
  const ending = splitStatements(sql).find(endsTransaction);
  if (!ending) return;
  throw new Error(`"${ending}" would end the transaction ${file} runs in (its batch's; a rehearsal's on the target): refused, not sent; `
    + 'a migration that must commit part-way runs outside a transaction (export const config = { transaction: false })');
}

/** Knex on `settings`' database for `work`, then destroyed; its failures named (the one place knex is started). */
async function withKnex<T>(settings: Settings, o: WithKnexOptions, work: (knex: Knex) => Promise<T>): Promise<T> {
  const source = o.only ? new SomeMigrationFiles(o.directory, o.reporter, o.only) : new MigrationFiles(o.directory, o.reporter);
  const pids = new Set<number>();
  const knex = loadKnex()({ ...trackingSessions(settings, pids), migrations: { ...settings.knex.migrations, migrationSource: source } });
  knex.on('query', (q: { sql: string; bindings?: unknown[] }) => {
    o.onQuery?.(q.sql, q.bindings ?? [], source.running); // first: a rehearsal records the statement it refuses
    refuseEndingTheTransaction(source, q.sql);
  });
  // Every couple of seconds, names the sessions that keep the run waiting for a lock (once each).
  const stopWatching = o.watcher ? watchBlockers(o.watcher, () => [...pids], REPORT_WAIT_AFTER_MS, (b, first) => {
    if (first) log(`waiting for a lock held by ${describeBlocker(b)}`);
  }) : undefined;
  try {
    return await work(knex);
  } catch (caught) {
    const err = source.lastFailure ?? caught;
    if (err instanceof MigrationFileError) throw explainMigrationFailure(err, settings);
    throw explainMissingFiles(err, settings) ?? explainDatabaseError(err, settings.displayUrl);
  } finally {
    stopWatching?.();
    await knex.destroy();
  }
}

/**
 * Applies every pending migration, without serializing (the caller owns the database): in one
 * batch, in one transaction; but a migration that cannot run in one (`config = { transaction:
 * false }`: CREATE INDEX CONCURRENTLY, an index built chunk by chunk) runs alone, outside any,
 * after the migrations before it have committed as a batch of their own, and the rest follow in
 * another batch. Returns the files applied.
 */
export async function applyMigrations(settings: Settings, o: WithKnexOptions = {}): Promise<string[]> {
  const source = new MigrationFiles(o.directory);
  const files = (await source.getMigrations()).filter((f) => !o.only || o.only.includes(f));
  if (files.every((f) => source.runsInTransaction(f))) {
    return withMigrationTransaction(settings, o, async (trx) => (await trx.migrate.latest())[1] as string[]);
  }
  const pending = await withKnex(settings, o, async (knex) => (await knex.migrate.list())[1].map(migrationName));
  const applied: string[] = [];
  for (const segment of segments(pending, (f) => source.runsInTransaction(f))) {
    const through = files.slice(0, files.indexOf(segment.files[segment.files.length - 1]) + 1);
    if (segment.inTransaction) {
      applied.push(...await withMigrationTransaction(settings, { ...o, only: through }, async (trx) => (await trx.migrate.latest())[1] as string[]));
      continue;
    }
    const [file] = segment.files;
    if (o.reporter) log(`${file} runs alone, outside a transaction (its config.transaction is false)${applied.length ? `, after ${count(applied.length, 'migration')} before it committed` : ''}`);
    applied.push(...await runOutsideTransaction(settings, { ...o, only: through }, file, applied));
  }
  return applied;
}

/** A knex migration list entry's name (the file, for our source). */
const migrationName = (m: unknown): string => (typeof m === 'string' ? m : (m as { name?: string; file?: string }).name ?? (m as { file: string }).file);

/** The pending files in runs: each run of migrations in a transaction one segment, each one outside a transaction alone. */
export function segments(pending: string[], inTransaction: (file: string) => boolean): Array<{ inTransaction: boolean; files: string[] }> {
  const out: Array<{ inTransaction: boolean; files: string[] }> = [];
  for (const file of pending) {
    const last = out[out.length - 1];
    if (inTransaction(file) && last?.inTransaction) last.files.push(file);
    else out.push({ inTransaction: inTransaction(file), files: [file] });
  }
  return out;
}

/**
 * One migration outside a transaction, as knex runs one: each statement commits on its own, so
 * a failure part-way leaves what the statements before it did. The error says what stays and
 * what to run next.
 */
async function runOutsideTransaction(settings: Settings, o: WithKnexOptions, file: string, before: string[]): Promise<string[]> {
  const sent: string[] = [];
  const onQuery = (sql: string, bindings: readonly unknown[], migration?: string) => {
    if (migration === file) sent.push(sql);
    o.onQuery?.(sql, bindings, migration);
  };
  try {
    return await withKnex(settings, { ...o, onQuery }, async (knex) => (await knex.migrate.latest())[1] as string[]);
  } catch (err) {
    if (!(err instanceof MigrationFailedError)) throw err;
    const left = await withClient(settings, async (c) => (await c.query(`SELECT i.relname AS name FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
      WHERE NOT x.indisvalid AND i.relnamespace NOT IN (SELECT oid FROM pg_namespace WHERE nspname LIKE 'pg\\_%' OR nspname LIKE '\\_timescaledb\\_%')`)).rows.map((r) => r.name as string))
      .catch(() => [] as string[]);
    const done = sent.slice(0, -1).map((s) => s.replace(/\s+/g, ' ').trim().slice(0, 120));
    throw new MigrationFailedError(`${err.message.replace(' failed: ', ' failed outside a transaction: ')}. `
      + `${before.length ? `The migrations before it are applied and committed (${before.join(', ')}); ` : ''}${file} is not recorded as applied; `
      + (done.length ? `its ${count(done.length, 'statement')} before the failing one committed and ${done.length === 1 ? 'stays' : 'stay'}: ${done.join('; ')}` : 'nothing of it committed: it failed at its first statement')
      + (left.length ? `; left invalid (built part-way): index ${left.join(', index ')}` : ''),
    `${left.length ? `drop what is left invalid (DROP INDEX CONCURRENTLY IF EXISTS ${left.join(', ')}), ` : ''}fix ${file} so that running it again from its first statement works (IF NOT EXISTS), then run the migration again (npm run db:migrate): it starts with ${file}`,
    { cause: err });
  }
}

/**
 * `work` in one migration transaction, the only way the tools run one: it starts with the
 * session setup (SET LOCAL), so that knex's bookkeeping, the batch and all run as the owner with
 * the tools' timeouts, behind a transaction pooler too. `work` is given the pg session it runs on
 * as well: a reset checks what it built there before it commits, without a session of its own.
 */
export async function withMigrationTransaction<T>(settings: Settings, o: WithKnexOptions,
  work: (trx: Knex.Transaction, session: Client) => Promise<T>): Promise<T> {
  return withKnex(settings, o, (knex) => knex.transaction(async (trx) => {
    await prepareTransaction(knexQueryable(trx), { asOwner: true, lockTimeoutMs: settings.lockTimeoutMs });
    return work(trx, (await trx.client.acquireConnection()) as Client);
  }, o.session ? { connection: o.session } : undefined));
}

// One migration run at a time per database, whatever the role's lock_timeout; the lock ends
// with the holder's transaction. The knex CLI takes the same lock (knexfile.ts), so a run of it
// waits too instead of failing on knex's own lock.
export async function oneAtATime<T>(settings: Settings, work: (watcher: Client) => Promise<T>): Promise<T> {
  refuseSystemDatabase(settings.database, 'migrate');
  try {
    return await withLock(settings, MIGRATIONS_LOCK, `the migration lock of ${settings.database}`, async (lock) => {
      const { rows: [db] } = await lock.client.query('SELECT datistemplate FROM pg_database WHERE datname = current_database()');
      refuseSystemDatabase(settings.database, 'migrate', db?.datistemplate);
      return work(lock.client);
    });
  } catch (err) {
    // A batch (and a rollback) is one transaction: a lock that never came leaves nothing half-done.
    if (err instanceof LockTimeoutError) throw new LockTimeoutError(err.message, `${err.hint}; nothing was changed: ${settings.database} is at its previous version`, { cause: err });
    throw err;
  }
}

/** Applies every pending migration in one batch; returns the files applied. */
export async function migrateLatest(settings: Settings, o: MigrateOptions = {}): Promise<string[]> {
  return oneAtATime(settings, (watcher) => applyMigrations(settings, { ...o, watcher }));
}

/**
 * A baseline a database was carried past stands for every batch it replaced: reverting it as
 * "the last batch" (or, `last: 'migration'`, as the last migration: knex's migrate:down) would
 * revert them all, dropping its tables with their data. Asked on `session`, under the migration lock.
 */
export async function refuseRevertingSquashedBatches(session: Client, database: string, last: 'batch' | 'migration' = 'batch'): Promise<void> {
  const history = await readSquashedMigrations(session);
  if (history.length === 0) return;
  const table = `${session.escapeIdentifier(MIGRATIONS_SCHEMA)}.${session.escapeIdentifier(MIGRATIONS_TABLE)}`;
  const { rows } = await session.query(last === 'batch'
    ? `SELECT name FROM ${table} WHERE batch = (SELECT max(batch) FROM ${table})`
    : `SELECT name FROM ${table} ORDER BY id DESC LIMIT 1`);
  for (const { name } of rows) {
    const replaced = history.filter((h) => h.squashedInto === name);
    const batches = new Set(replaced.map((h) => h.batch)).size;
    if (batches > 1) {
      throw new SquashRefusedError(`the last ${last} of ${database} is ${name}, which stands for ${replaced.length} migrations applied in ${batches} batches: `
        + 'rolling it back would revert them all, dropping every table it built with its data; nothing was changed',
      'to undo the last change only, write a migration that undoes it (`npm run db:new`); to revert everything, `npm run db:rollback -- --all` (or `npx knex migrate:rollback --all`)');
    }
  }
}

/** Reverts the last batch, or every batch with `all`; returns the files reverted. */
export async function rollback(settings: Settings, all: boolean, o: MigrateOptions = {}): Promise<string[]> {
  // Knex reverts each migration in a transaction of its own; one around them all makes a
  // rollback that fails or times out half-way leave every table where it was.
  return oneAtATime(settings, async (watcher) => {
    const source = new MigrationFiles(o.directory);
    const outside = (await source.getMigrations()).filter((f) => !source.runsInTransaction(f));
    const revertBatch = async (): Promise<string[]> => {
      const { batch, names } = await withTransaction(settings, lastBatch);
      if (batch === undefined) return [];
      if (!names.some((n) => outside.includes(n))) {
        return withMigrationTransaction(settings, { ...o, watcher }, async (trx) => (await trx.migrate.rollback(undefined, false))[1] as string[]);
      }
      // A migration that ran outside a transaction is reverted outside one too (its down undoes what cannot run in one).
      if (o.reporter) log(`${names.join(', ')} reverted alone, outside a transaction (config.transaction is false)`);
      return withKnex(settings, { ...o, watcher }, async (knex) => (await knex.migrate.rollback(undefined, false))[1] as string[]);
    };
    if (!all) {
      await withTransaction(settings, (c) => refuseRevertingSquashedBatches(c, settings.database));
      return revertBatch();
    }
    if (outside.length === 0) {
      return withMigrationTransaction(settings, { ...o, watcher }, async (trx) => (await trx.migrate.rollback(undefined, true))[1] as string[]);
    }
    // Batch by batch, each committed on its own: one batch cannot hold a migration that runs outside a transaction.
    const reverted: string[] = [];
    for (let done = await revertBatch(); done.length > 0; done = await revertBatch()) reverted.push(...done);
    return reverted;
  });
}

/** The last batch's number and its migrations, newest first; none when nothing is applied. */
async function lastBatch(session: Client): Promise<{ batch?: number; names: string[] }> {
  const table = `${session.escapeIdentifier(MIGRATIONS_SCHEMA)}.${session.escapeIdentifier(MIGRATIONS_TABLE)}`;
  const { rows: [has] } = await session.query('SELECT to_regclass($1) IS NOT NULL AS t', [table]);
  if (!has.t) return { names: [] };
  const { rows } = await session.query(`SELECT name, batch FROM ${table} WHERE batch = (SELECT max(batch) FROM ${table}) ORDER BY id DESC`);
  return { batch: rows[0]?.batch, names: rows.map((r) => r.name as string) };
}
