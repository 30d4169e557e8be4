// A rehearsal: migrations run where nothing is lost, every statement they send captured, and
// the schema read before and after each. Knex has no dry run (knex#416, knex#2580), so this is
// the one way to see what a migration will do without doing it to the target; `migrate
// --dry-run`, the lint and production's migrate start here. It never runs on the target unless
// asked to by name: a rehearsal there would use up sequence values, take the migration's locks
// on the live tables, and let a COMMIT in a migration through.
import type { Knex } from 'knex';
import { Client, escapeIdentifier, escapeLiteral } from 'pg';
import { MigrationFiles, MIGRATIONS_SCHEMA, MigrationReporter } from '../../../db/migrationSource';
import { KapmanError, MigrationFailedError, MigrationFileMissingError, PermissionDeniedError, UsageError } from '../cli/errors';
import { count, log, plain } from '../cli/log';
import { withTransaction } from '../server/connection';
import { DEFAULT_PG_BIN, localBinariesProblem } from '../server/localCluster';
import { mayCreateDatabases } from '../server/admin';
import { Settings } from '../server/settings';
import { readAppliedMigrations, readStructure, rowEstimates, Structure } from '../schema/introspect';
import { applyMigrations, oneAtATime, withMigrationTransaction } from './migrate';
import { carryForwardRefusal, foldPast } from './carryForward';
import { withScratchDatabase, withScratchServer } from './scratch';
import { splitStatements } from './statements';

export interface RehearsedMigration {
  /** The migration's file name, as knex records it. */
  file: string;
  /** Every statement it sent, in order, each on its own (a knex.raw of several is split), bound values inlined; knex's bookkeeping left out. */
  statements: string[];
  /** False for a migration that runs outside a transaction (`config = { transaction: false }`): alone, after the batch before it commits. */
  inTransaction: boolean;
  /** The schema, with each table's storage, just before it ran and just after (asked for with `eachSchema`; no `after` when it failed). */
  before?: Structure;
  after?: Structure;
}

export type RehearsalPlace = 'scratch database' | 'throwaway local server' | 'the target, in a transaction rolled back';

export interface Rehearsal {
  /** The target whose migrations were rehearsed. */
  database: string;
  /** A scratch database beside the target or on a throwaway local server (then dropped), or, asked for by name, the target itself. */
  where: RehearsalPlace;
  /** The scratch database's name (dropped since), when it ran on one. */
  scratch?: string;
  migrations: RehearsedMigration[];
  /** The schema the rehearsed migrations started from (with each table's storage). */
  before: Structure;
  /** What they built; absent when one failed. */
  after?: Structure;
  /** Each table's rows on the target, as its statistics estimate them (the rehearsal's tables are empty): table -> rows, undefined where never analyzed. */
  rows: Record<string, number | undefined>;
  /** The migration that failed, and the error a real run would give; `at`, the statements of the call that failed (the last captured). */
  failure?: { file: string; error: KapmanError; at: string[] };
}

export interface RehearseOptions {
  /** Another migrations folder (tests use temporary ones). */
  directory?: string;
  /**
   * These migration files, applied to the target or not, instead of its pending ones: the
   * scratch database gets every file before the first of them, then the rest up to the last
   * of them is rehearsed (only theirs are reported).
   */
  only?: string[];
  /** The local PostgreSQL binaries (PG_BIN) for a throwaway server, where the target's role may not create databases. */
  pgBin?: string;
  /** Rehearse on the target itself, in a transaction rolled back (--rehearse-on-target): its locks and used-up sequence values are the target's. */
  onTarget?: boolean;
  /** Read the schema before and after each migration (the lint's rules compare them; a dry run needs only the first and the last). */
  eachSchema?: boolean;
  /**
   * A database on the target's server that the migrations the target applied built, and nothing
   * else touched (the tests' migrated template): the scratch database is a copy of it instead of
   * being built again (checked: a copy that applied other migrations is an error).
   */
  builtFrom?: string;
}

// pg's own conversion of a bound value to the text it sends (arrays, dates, buffers, JSON); untyped.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { prepareValue } = require('pg/lib/utils') as { prepareValue(value: unknown): string | Buffer | null };

/** The rehearsal's own end on the target: thrown to roll its transaction back, never shown. */
class RehearsalOver extends KapmanError {}

/** What a rehearsal on the target takes there, said before it starts. */
export const ON_TARGET_COSTS = 'it holds the migration lock, and its statements take the same locks on the live tables as the migration will, '
  + 'for as long (writers wait); the sequence values it uses stay used (nextval is never rolled back), knex\'s own id sequence included; '
  + 'a statement that would end the transaction (COMMIT) is refused unsent, and a migration that runs outside a transaction cannot be rehearsed there';

/**
 * Rehearses the target's pending migrations (or `only` these): on a scratch database that the
 * migrations the target has applied built first, beside the target where its role may create
 * one, else on a throwaway local server (PG_BIN), dropped afterwards. Where neither can be had,
 * it refuses, unless asked to rehearse on the target itself (`onTarget`).
 */
export async function rehearse(settings: Settings, o: RehearseOptions = {}): Promise<Rehearsal> {
  const source = new MigrationFiles(o.directory);
  const files = await source.getMigrations();
  const { recorded, mayCreate, rows } = await withTransaction(settings, async (c) => ({
    recorded: await readAppliedMigrations(c),
    mayCreate: await mayCreateDatabases(c),
    rows: await rowEstimates(c),
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
  const run: CaptureRun = { source, only: through, reported, eachSchema: Boolean(o.eachSchema) };
  const place = (where: RehearsalPlace) => ({ database: settings.database, where, rows });
  if (reported.length === 0) {
    // Nothing pending: nothing to run, and the target's schema is what they would start from.
    const before = await withTransaction(settings, readStructure);
    return { ...place(o.onTarget ? 'the target, in a transaction rolled back' : 'scratch database'), migrations: [], before, after: before };
  }
  if (o.onTarget) {
    if (o.only) {
      throw new UsageError('named migrations are rehearsed on a scratch database only, never on the target',
        'name none to rehearse the pending ones on the target, or leave out --rehearse-on-target');
    }
    const outside = reported.filter((f) => !source.runsInTransaction(f));
    if (outside.length) {
      throw new UsageError(`${outside.join(', ')} ${outside.length > 1 ? 'run' : 'runs'} outside a transaction (config.transaction is false): it cannot be rehearsed on the target in a transaction rolled back`,
        'rehearse on a scratch database instead: leave out --rehearse-on-target, as a role with CREATEDB or with PostgreSQL and TimescaleDB installed locally (PG_BIN)');
    }
    log(`rehearsing on ${settings.database} itself, as asked (--rehearse-on-target), in a transaction rolled back: ${ON_TARGET_COSTS}`);
    return oneAtATime(settings, async (watcher) => ({ ...place('the target, in a transaction rolled back'), ...(await captureOnTarget(settings, { ...run, watcher })) }));
  }
  const binDir = o.pgBin || DEFAULT_PG_BIN;
  const problem = mayCreate ? undefined : localBinariesProblem(binDir);
  if (problem) {
    throw new PermissionDeniedError(`a rehearsal needs a scratch database, and none can be had: the role of ${settings.displayUrl} may not create databases, and ${problem}`,
      'connect as a role with CREATEDB, or install PostgreSQL 15 with TimescaleDB here (PG_BIN names its binaries), or rehearse on the target itself with --rehearse-on-target '
      + '(KAPMAN_REHEARSE_ON_TARGET=1 for the knex CLI), knowing that it takes the migrations\' locks on the live tables and uses up sequence values there');
  }
  return withScratchServer(settings, o.pgBin, async (server) => {
    const beside = server.url === settings.url;
    const copyOf = beside ? o.builtFrom : undefined;
    return withScratchDatabase(server, async (scratch) => {
      if (copyOf && !await appliedJust(scratch, built)) throw new Error(`${copyOf} is not what the migrations before those rehearsed build: it applied other ones`);
      if (built.length && !copyOf) await applyMigrations(scratch, { directory: o.directory, only: built });
      return { ...place(beside ? 'scratch database' : 'throwaway local server'), scratch: scratch.database, ...(await capture(scratch, run)) };
    }, { copyOf });
  });
}

/** Whether `db` applied exactly `files`, in order. */
async function appliedJust(db: Settings, files: string[]): Promise<boolean> {
  return (await withTransaction(db, readAppliedMigrations)).map((m) => m.name).join('\0') === files.join('\0');
}

interface CaptureRun {
  source: MigrationFiles;
  /** The migration files knex sees; those not yet applied run. */
  only: string[];
  /** The files whose statements are reported. */
  reported: string[];
  eachSchema: boolean;
  watcher?: Client;
}

// Knex's own savepoints, named after its transaction ids: a transaction a migration opens inside
// the batch's. (Knex's BEGIN and COMMIT of the batch fall outside a migration's up(); a COMMIT
// inside one is the migration's own, and refused.)
const KNEX_TRANSACTION = /^(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT) trx\d+;?$/i;

type Captured = Omit<Rehearsal, 'database' | 'where' | 'rows'>;

/** The schema as `knex` sees it (inside its transaction, when it is one), with each table's storage. */
async function readOn(knex: Knex): Promise<Structure> {
  const connection = await knex.client.acquireConnection();
  try {
    return await readStructure(connection as Client);
  } finally {
    await knex.client.releaseConnection(connection);
  }
}

/**
 * What each reported file sends, split into statements, and the schema before and after it; the
 * reporter brackets each file's up(): what knex sends between is the file's, bar its checksum.
 */
function recorder(run: CaptureRun) {
  const migrations = new Map<string, RehearsedMigration>();
  const calls = new Map<string, string[][]>();
  let last: Structure | undefined; // the schema after the file before, when it was reported
  let failedIn: string | undefined; // the file running when the last call was sent
  const reporter: MigrationReporter = {
    started: async (file, _direction, knex) => {
      if (!run.reported.includes(file)) return;
      const before = run.eachSchema ? last ?? await readOn(knex) : undefined;
      migrations.set(file, { file, statements: [], inTransaction: run.source.runsInTransaction(file), ...(before ? { before } : {}) });
      calls.set(file, []);
    },
    finished: async (file, _direction, _ms, knex) => {
      const m = migrations.get(file);
      last = m && run.eachSchema ? (m.after = await readOn(knex)) : undefined;
    },
  };
  // What knex sends while a file's up() runs is the file's (knex's bookkeeping and its savepoints aside).
  const bookkeeping = `${escapeIdentifier(MIGRATIONS_SCHEMA)}.`;
  const onQuery = (sql: string, bindings: readonly unknown[], running?: string) => {
    const m = running ? migrations.get(running) : undefined;
    if (!m || sql.includes(bookkeeping) || KNEX_TRANSACTION.test(sql.trim())) return;
    const statements = splitStatements(inlineBindings(sql, bindings));
    m.statements.push(...statements);
    calls.get(m.file)!.push(statements);
    failedIn = m.file;
  };
  const failed = (err: unknown): Captured['failure'] => {
    const file = err instanceof MigrationFailedError ? (err.cause as { migration?: string } | undefined)?.migration ?? failedIn : undefined;
    if (!file || !migrations.has(file)) return undefined;
    const made = calls.get(file)!;
    return { file, error: err as KapmanError, at: made[made.length - 1] ?? [] };
  };
  const captured = () => [...migrations.values()];
  return { reporter, onQuery, failed, captured };
}

/** Runs what is pending on the scratch database `db` as db:migrate would (a migration outside a transaction outside one), capturing it. */
async function capture(db: Settings, run: CaptureRun): Promise<Captured> {
  const r = recorder(run);
  const read = () => withTransaction(db, readStructure);
  const start = run.eachSchema ? undefined : await read();
  let failure: Captured['failure'];
  try {
    await applyMigrations(db, { directory: run.source.directory, only: run.only, reporter: r.reporter, onQuery: r.onQuery });
  } catch (err) {
    failure = r.failed(err);
    if (!failure) throw err;
  }
  const migrations = r.captured();
  const before = start ?? migrations[0]?.before ?? await read();
  if (failure) return { migrations, before, failure };
  return { migrations, before, after: run.eachSchema ? migrations[migrations.length - 1]?.after ?? before : await read() };
}

/** Runs what is pending on the target in one transaction, capturing it, then rolls it back. */
async function captureOnTarget(db: Settings, run: CaptureRun): Promise<Captured> {
  const r = recorder(run);
  let before: Structure | undefined;
  let after: Structure | undefined;
  let failure: Captured['failure'];
  try {
    await withMigrationTransaction(db, { directory: run.source.directory, only: run.only, reporter: r.reporter, onQuery: r.onQuery, watcher: run.watcher }, async (trx, session) => {
      before = await readStructure(session);
      await trx.migrate.latest();
      if (!run.eachSchema) after = await readStructure(session);
      throw new RehearsalOver('rolled back');
    });
  } catch (err) {
    if (!(err instanceof RehearsalOver)) {
      failure = r.failed(err);
      if (!failure) throw err;
    }
  }
  const migrations = r.captured();
  // The target is unchanged, as rolled back: what they started from is read again where the transaction failed first.
  before ??= await withTransaction(db, readStructure);
  return { migrations, before, ...(failure ? { failure } : { after: after ?? migrations[migrations.length - 1]?.after ?? before }) };
}

/** Prints each rehearsed migration and its statements, as they will run. */
export function printRehearsal(r: Rehearsal): void {
  if (r.migrations.length === 0 && !r.failure) {
    log(`no migration pending on ${r.database}`);
    return;
  }
  log(`${count(r.migrations.length, 'pending migration')} of ${r.database}, rehearsed on ${r.where === 'the target, in a transaction rolled back' ? r.where : `a ${r.where}`}:`);
  for (const m of r.migrations) {
    log(`${m.file} (${count(m.statements.length, 'statement')}${m.inTransaction ? '' : '; runs alone, outside a transaction, after the batch before it commits'}):`);
    if (m.statements.length) plain(m.statements.map((s) => `${s.trim().replace(/;$/, '')};`).join('\n'));
  }
  if (r.failure) {
    const at = r.failure.at.length > 1 ? `in its last ${r.failure.at.length} statements above (one call of knex)` : 'at its last statement above';
    log(`${r.failure.file} fails ${at}: ${r.failure.error.message}`);
  }
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
