// Where migrations come from: the TypeScript files of db/migrations, in file-name order.
// Both the knex CLI (through knexfile.ts) and the scripts use this one source, so every
// path that applies a migration also reports its file and duration when asked to.
import crypto from 'crypto';
import fs from 'fs';
import path from 'path';
import type { Knex } from 'knex';

export const MIGRATIONS_DIR = path.join(__dirname, 'migrations');

/** Where a squash moves the migrations it folded into a baseline: beside the migrations folder, and run by nothing. */
export function squashedDirOf(directory = MIGRATIONS_DIR): string {
  return path.join(path.dirname(directory), 'squashed');
}

/**
 * Where a squash keeps what it puts in place, beside the migrations folder, while it moves the
 * files: present only between the moment it starts changing db/ and the moment it is done, so a
 * squash killed in between leaves it, and the next command finishes what it says (squash.ts).
 */
export function squashJournalOf(directory = MIGRATIONS_DIR): string {
  return path.join(path.dirname(directory), '.squash-in-progress');
}

/** What a squash was putting in place: the baseline, the files it folds, and whether db/schema.sql changes. */
export interface SquashPlan {
  baseline: string;
  squashed: string[];
  schemaSql: boolean;
}

/** A squash killed while it changed db/: its plan, or undefined. */
export function unfinishedSquash(directory = MIGRATIONS_DIR): SquashPlan | undefined {
  const plan = path.join(squashJournalOf(directory), 'plan.json');
  return fs.existsSync(plan) ? JSON.parse(fs.readFileSync(plan, 'utf8')) as SquashPlan : undefined;
}

/** The command that finishes a squash killed part-way. */
export const FINISH_SQUASH = 'npm run db:squash -- --finish';

/** db/ half-way through a squash: nothing may read the migrations until it is finished (FINISH_SQUASH). */
export class UnfinishedSquashError extends Error {
  readonly hint: string;
  constructor(directory: string, plan: SquashPlan) {
    const moved = plan.squashed.filter((f) => !fs.existsSync(path.join(directory, f))).length;
    const db = path.basename(path.dirname(directory));
    super(`${db}/ is part-way through a squash into ${plan.baseline}: it was stopped after moving ${moved} of the ${plan.squashed.length} files it folds to `
      + `${db}/squashed/${fs.existsSync(path.join(directory, plan.baseline)) ? `, with ${plan.baseline} in place` : `, before ${plan.baseline} was put in place`} `
      + `(its proof had passed; ${db}/${path.basename(squashJournalOf(directory))}/ holds the rest); no migration is read until \`${FINISH_SQUASH}\` finishes it`);
    this.hint = `finish it with \`${FINISH_SQUASH}\` (it only moves files, as the squash would have), then review and commit db/`;
  }
}

/** Told of each migration as it starts and as it is done, given the knex it runs on (its transaction, or knex itself outside one); awaited. */
export interface MigrationReporter {
  started(name: string, direction: 'up' | 'down', knex: Knex): void | Promise<void>;
  finished(name: string, direction: 'up' | 'down', ms: number, knex: Knex): void | Promise<void>;
}

/** A migration that failed, naming its file; the cause is the driver's error. */
export class MigrationFileError extends Error {
  constructor(readonly migration: string, readonly direction: 'up' | 'down', readonly cause: unknown) {
    super(`${direction} of migration ${migration} failed: ${(cause as Error)?.message ?? cause}`);
  }
}

interface MigrationModule {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
  /** `{ transaction: false }`: knex runs it outside a transaction. */
  config?: { transaction?: boolean };
  /** A baseline's: the migrations it replaced, each with the sha256 it had when they were squashed. */
  squashes?: Record<string, string>;
}

/** A migration written by a squash: it builds what `squashes` built, which now lie in the squashed folder. */
export interface Baseline {
  name: string;
  squashes: Record<string, string>;
  /** Hashes a squashed file had before a harmless edit (FORMER_CHECKSUMS): a database that applied one of them applied it as written. */
  former?: Record<string, string[]>;
}

/** Knex's bookkeeping schema, and the table beside knex_migrations that keeps each applied file's hash. */
export const MIGRATIONS_SCHEMA = 'knex';
export const MIGRATIONS_TABLE = 'knex_migrations';
export const CHECKSUMS_TABLE = 'migration_checksums';
/** The migrations a database applied before they were squashed: their rows moved out of knex_migrations, which knex would call corrupt. */
export const SQUASHED_TABLE = 'squashed_migrations';

/** The sha256 of a migration file's content, as recorded when it is applied. */
export function fileChecksum(directory: string, file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(path.join(directory, file))).digest('hex');
}

// Recorded in the migration's own transaction, so a file counts as applied with exactly
// the content that ran (Flyway's checksums; knex keeps only names).
export async function recordChecksum(knex: Knex, file: string, sha256: string | undefined): Promise<void> {
  // IF NOT EXISTS rather than knex's hasTable: its information_schema query costs more than the
  // rest of the bookkeeping, once per migration. The columns are those knex's builder gave it.
  await knex.raw(`CREATE TABLE IF NOT EXISTS ??.?? (name varchar(255) CONSTRAINT ?? PRIMARY KEY,
    sha256 varchar(64) NOT NULL, applied_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP)`,
  [MIGRATIONS_SCHEMA, CHECKSUMS_TABLE, `${CHECKSUMS_TABLE}_pkey`]);
  const rows = knex.withSchema(MIGRATIONS_SCHEMA).table(CHECKSUMS_TABLE);
  if (sha256) await rows.insert({ name: file, sha256 }).onConflict('name').merge();
  else await rows.where({ name: file }).delete();
}

/**
 * Hashes a released migration had before an edit that was essential and changes nothing its up
 * builds (the reason is beside the edit): a database that applied the earlier file still counts
 * as applied as written.
 */
export const FORMER_CHECKSUMS: Record<string, string[]> = {
  '0001_timescaledb.ts': ['6cec8ad6eb0b2902ebd2ad5ff46c7a20cbfc2e6a5086330904323fd6b50fc073'], // its down keeps the extension now
};

/** A folder's migration files, in the order they run. */
export function migrationFilesIn(directory: string): string[] {
  return fs.readdirSync(directory).filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith('.d.ts')).sort();
}

function loadMigration(directory: string, file: string): MigrationModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(path.join(directory, file));
}

export class MigrationFiles implements Knex.MigrationSource<string> {
  /** The last migration that failed: when the failure also broke the connection, knex reports only its ROLLBACK's error. */
  lastFailure?: MigrationFileError;
  /** The migration whose up or down is running now (what knex sends meanwhile is the migration's, bar its checksum). */
  running?: string;

  constructor(readonly directory = MIGRATIONS_DIR, readonly reporter?: MigrationReporter) {}

  async getMigrations(): Promise<string[]> {
    const plan = unfinishedSquash(this.directory);
    if (plan) throw new UnfinishedSquashError(this.directory, plan);
    return migrationFilesIn(this.directory);
  }

  /** Every file with the hash of its content now. */
  async checksums(): Promise<Array<{ name: string; sha256: string; former: string[] }>> {
    const former = (name: string) => (this.directory === MIGRATIONS_DIR ? FORMER_CHECKSUMS[name] ?? [] : []);
    return (await this.getMigrations()).map((name) => ({ name, sha256: fileChecksum(this.directory, name), former: former(name) }));
  }

  /** The baselines among the files, in order, and (with `squashed`) those a later squash folded in turn. */
  async baselines(o: { squashed?: boolean } = {}): Promise<Baseline[]> {
    const formerOf = (squashes: Record<string, string>) => (this.directory === MIGRATIONS_DIR
      ? Object.fromEntries(Object.keys(squashes).filter((f) => FORMER_CHECKSUMS[f]).map((f) => [f, FORMER_CHECKSUMS[f]])) : {});
    const found = (directory: string, files: string[]) => files.flatMap((name) => {
      const squashes = loadMigration(directory, name).squashes;
      return squashes ? [{ name, squashes, former: formerOf(squashes) }] : [];
    });
    const squashedDir = squashedDirOf(this.directory);
    const older = o.squashed && fs.existsSync(squashedDir) ? found(squashedDir, migrationFilesIn(squashedDir)) : [];
    return [...older, ...found(this.directory, await this.getMigrations())];
  }

  getMigrationName(file: string): string {
    return file;
  }

  /** Whether the file runs in a transaction: all do, but one that says `export const config = { transaction: false }`. */
  runsInTransaction(file: string): boolean {
    return loadMigration(this.directory, file).config?.transaction !== false;
  }

  async getMigration(file: string): Promise<Knex.Migration> {
    const module = loadMigration(this.directory, file);
    const run = (direction: 'up' | 'down') => async (knex: Knex) => {
      await this.reporter?.started(file, direction, knex);
      const started = process.hrtime.bigint();
      try {
        this.running = file;
        await module[direction](knex);
        this.running = undefined;
        await recordChecksum(knex, file, direction === 'up' ? fileChecksum(this.directory, file) : undefined);
      } catch (err) {
        throw (this.lastFailure = new MigrationFileError(file, direction, err));
      } finally {
        this.running = undefined;
      }
      await this.reporter?.finished(file, direction, Number(process.hrtime.bigint() - started) / 1e6, knex);
    };
    return { up: run('up'), down: run('down'), ...(module.config ? { config: module.config } : {}) };
  }
}
