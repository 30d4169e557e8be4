// A rehearsal: migrations run where nothing is lost, every statement they send captured. Knex
// has no dry run (knex#416, knex#2580), so this is the one way to see what a migration will do
// without doing it to the target; `migrate --dry-run`, the lint and a squash all start here.
import { Client, escapeIdentifier, escapeLiteral } from 'pg';
import { MigrationFiles, MIGRATIONS_SCHEMA, MigrationReporter } from '../../../db/migrationSource';
import { KapmanError, MigrationFailedError, MigrationFileMissingError, PermissionDeniedError, UsageError } from '../cli/errors';
import { withTransaction } from '../server/connection';
import { withScratchDatabase } from './scratch';
import { mayCreateDatabases } from '../server/admin';
import { Settings } from '../server/settings';
import { LiveSchema, readAppliedMigrations, readSchema } from '../schema/introspect';
import { applyMigrations, oneAtATime, withMigrationTransaction } from './migrate';
import { carryForwardRefusal, foldPast } from './carryForward';

export interface RehearsedMigration {
  /** The migration's file name, as knex records it. */
  file: string;
  /** Every statement it sent, in order, with bound values inlined; knex's bookkeeping left out. */
  statements: string[];
}

export interface Rehearsal<T = undefined> {
  /** The target whose migrations were rehearsed. */
  database: string;
  /** A scratch database beside the target (then dropped), or the target itself in a transaction rolled back. */
  where: 'scratch database' | 'transaction rolled back';
  /** The scratch database's name (dropped since), when it ran on one. */
  scratch?: string;
  migrations: RehearsedMigration[];
  /** The schema the rehearsed migrations started from. */
  before: LiveSchema;
  /** What they built; absent when one failed. */
  after?: LiveSchema;
  /** The migration that failed, and the error a real run would give; the last statement captured of it is the one that failed. */
  failure?: { file: string; error: KapmanError };
  /** What `inspect` found on what they built. */
  inspected?: T;
}

export interface RehearseOptions<T> {
  /** Another migrations folder (tests use temporary ones). */
  directory?: string;
  /**
   * These migration files, applied to the target or not, instead of its pending ones: the
   * scratch database gets every file before the first of them, then the rest up to the last
   * of them is rehearsed (only theirs are reported).
   */
  only?: string[];
  /** Reads what the migrations built, on the rehearsal's session, before it is thrown away. */
  inspect?: (session: Client) => Promise<T>;
}

// pg's own conversion of a bound value to the text it sends (arrays, dates, buffers, JSON); untyped.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { prepareValue } = require('pg/lib/utils') as { prepareValue(value: unknown): string | Buffer | null };

/** The rehearsal's own end: thrown to roll its transaction back, never shown. */
class RehearsalOver extends KapmanError {}

/**
 * Rehearses the target's pending migrations (or `only` these) and returns their statements.
 * Where the connecting role may create a database, they run on a scratch database that the
 * migrations the target has applied built first, and it is dropped; where it may not (a managed
 * server), on the target itself, holding the migration lock, in a transaction rolled back.
 */
export async function rehearse<T = undefined>(settings: Settings, o: RehearseOptions<T> = {}): Promise<Rehearsal<T>> {
  const source = new MigrationFiles(o.directory);
  const files = await source.getMigrations();
  const { recorded, mayCreate } = await withTransaction(settings, async (c) => ({
    recorded: await readAppliedMigrations(c),
    mayCreate: await mayCreateDatabases(c),
  }));
  // A database migrated before a squash counts as having applied the baseline, as db:migrate will record.
  const fold = await foldPast(source, recorded);
  const refused = carryForwardRefusal(fold, settings.database, o.directory);
  if (refused) throw refused;
  const applied = fold.applied.map((m) => m.name);
  let built: string[];
  let through: string[];
  let reported: string[];
  if (o.only) {
    const unknown = o.only.filter((f) => !files.includes(f));
    if (unknown.length) throw new UsageError(`no migration ${unknown.join(', ')} in ${o.directory ?? 'db/migrations/'}`, 'name migration files as `npm run db:status` lists them');
    const at = o.only.map((f) => files.indexOf(f));
    built = files.slice(0, Math.min(...at));
    through = files.slice(0, Math.max(...at) + 1);
    reported = files.filter((f) => o.only!.includes(f));
  } else {
    const missing = applied.filter((f) => !files.includes(f));
    if (missing.length) {
      throw new MigrationFileMissingError(`${settings.database} has migrations applied whose files are not in db/migrations/: ${missing.join(', ')}`,
        'bring the file back (`git log --all -- db/migrations/` finds it) or check out the branch that added it; `npm run db:status` lists them as [?]');
    }
    built = files.filter((f) => applied.includes(f));
    through = files;
    reported = files.filter((f) => !applied.includes(f));
  }
  const run = { directory: o.directory, only: through, reported, inspect: o.inspect };
  if (reported.length === 0) {
    // Nothing pending: nothing to run, and the target's schema is what they would start from.
    const before = await withTransaction(settings, readSchema);
    return { database: settings.database, where: mayCreate ? 'scratch database' : 'transaction rolled back', migrations: [], before, after: before };
  }
  if (mayCreate) {
    return withScratchDatabase(settings, async (scratch) => {
      if (built.length) await applyMigrations(scratch, { directory: o.directory, only: built });
      return { database: settings.database, where: 'scratch database', scratch: scratch.database, ...(await capture(scratch, run)) };
    });
  }
  if (o.only) {
    throw new PermissionDeniedError('rehearsing named migrations needs a scratch database, and the connecting role may not create one',
      'connect as a role with CREATEDB, or name none: the pending migrations are then rehearsed on the target in a transaction rolled back');
  }
  return oneAtATime(settings, async (watcher) => ({ database: settings.database, where: 'transaction rolled back', ...(await capture(settings, { ...run, watcher })) }));
}

interface CaptureRun<T> {
  directory?: string;
  /** The migration files knex sees; those not yet applied run. */
  only: string[];
  /** The files whose statements are reported. */
  reported: string[];
  inspect?: (session: Client) => Promise<T>;
  watcher?: Client;
}

// Knex's own transaction statements, each migration in a savepoint named after knex's transaction id.
const KNEX_TRANSACTION = /^(BEGIN|COMMIT|ROLLBACK);?$|^(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT) trx\d+;?$/i;

type Captured<T> = Omit<Rehearsal<T>, 'database' | 'where'>;

/** Runs what is pending on `db` in one transaction, capturing each file's statements, then rolls it back. */
async function capture<T>(db: Settings, run: CaptureRun<T>): Promise<Captured<T>> {
  const statements = new Map<string, string[]>(run.reported.map((f) => [f, []]));
  let running: string | undefined;
  // The reporter brackets each file's up(): what knex sends between is the file's, bar the checksum it records.
  const reporter: MigrationReporter = { started: (file) => { running = file; }, finished: () => { running = undefined; } };
  const bookkeeping = `${escapeIdentifier(MIGRATIONS_SCHEMA)}.`;
  const onQuery = (sql: string, bindings: readonly unknown[]) => {
    if (running && statements.has(running) && !sql.includes(bookkeeping) && !KNEX_TRANSACTION.test(sql.trim())) {
      statements.get(running)!.push(inlineBindings(sql, bindings));
    }
  };
  let result: Omit<Captured<T>, 'migrations'> | undefined;
  let failure: Captured<T>['failure'];
  try {
    await withMigrationTransaction(db, { directory: run.directory, only: run.only, reporter, onQuery, watcher: run.watcher }, async (trx, session) => {
      const before = await readSchema(session);
      await trx.migrate.latest();
      const after = await readSchema(session);
      result = { before, after, inspected: run.inspect ? await run.inspect(session) : undefined };
      throw new RehearsalOver('rolled back');
    });
  } catch (err) {
    if (!(err instanceof RehearsalOver)) {
      if (!(running && err instanceof MigrationFailedError)) throw err;
      failure = { file: running, error: err };
    }
  }
  // A failed migration aborted the transaction before `after`: the starting schema is read again,
  // on a session of its own for the scratch database (the target's is unchanged, as rolled back).
  const before = result?.before ?? await withTransaction(db, readSchema);
  const migrations = [...statements].filter(([file]) => failure === undefined || run.reported.indexOf(file) <= run.reported.indexOf(failure.file))
    .map(([file, sent]) => ({ file, statements: sent }));
  return { migrations, ...result, before, ...(failure ? { failure } : {}) };
}

/**
 * `sql` as knex sent it to pg ($1, $2, … placeholders) with each bound value written in as a
 * literal. A placeholder inside a string, a quoted name, a dollar-quoted body or a comment is
 * not one, so those are skipped.
 */
export function inlineBindings(sql: string, bindings: readonly unknown[]): string {
  if (bindings.length === 0) return sql;
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const rest = sql.slice(i);
    const skipped = /^('(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|\/\*[^]*?\*\/|(\$[A-Za-z_]*\$)[^]*?\2)/.exec(rest);
    if (skipped) {
      out += skipped[0];
      i += skipped[0].length;
      continue;
    }
    const placeholder = /^\$(\d+)/.exec(rest);
    if (placeholder && !/[\w$]/.test(sql[i - 1] ?? '') && Number(placeholder[1]) >= 1 && Number(placeholder[1]) <= bindings.length) {
      out += literal(bindings[Number(placeholder[1]) - 1]);
      i += placeholder[0].length;
      continue;
    }
    out += sql[i];
    i += 1;
  }
  return out;
}

function literal(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  const text = prepareValue(value);
  return text === null ? 'NULL' : escapeLiteral(Buffer.isBuffer(text) ? `\\x${text.toString('hex')}` : String(text));
}
