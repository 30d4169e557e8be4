// db:squash's work: fold the migrations up to a point into one generated baseline, proven to
// build the identical database before anything is written. The baseline's statements are
// generated from a database the old migrations built; the old files move to the squashed folder.
// The files are put in place through a journal (squashJournal.ts): a kill at any moment leaves
// db/ as it was, as it will be, or with the journal that `--finish` completes.
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import type { Client } from 'pg';
import { MigrationFiles, migrationFilesIn, MIGRATIONS_DIR, SquashPlan, squashedDirOf } from '../../../db/migrationSource';
import { MigrationFailedError, SquashRefusedError, UsageError } from '../cli/errors';
import { count, detail, log } from '../cli/log';
import { withClient } from '../server/connection';
import { Settings } from '../server/settings';
import { compareDatabases, Comparison } from '../schema/compare';
import { migrationStates } from '../schema/drift';
import { LiveSchema, misownedObjects, readSchema } from '../schema/introspect';
import { PORTABLE_TEXT, readSeedRows } from '../schema/read/data';
import { queryOn } from '../schema/read/scope';
import { schemaSqlOf } from '../schema/render';
import { dropStatements, Extras, identQuoter, insertableColumns, schemaStatements, unmakeable } from '../schema/statements';
import { carryForwardRefusal, foldOf } from './carryForward';
import { applyMigrations } from './migrate';
import { withScratchDatabase, withScratchServer } from './scratch';
import { projectPath, putInPlace, removeStaleStaging, reviewLines, unfinishedSquashRefusal } from './squashJournal';

export interface SquashOptions {
  /** The last migration to fold in, by its number (NNNN); every one when absent. */
  through?: string;
  /** Go on though db/ has uncommitted changes (or is not in a git work tree). */
  allowDirty?: boolean;
  /** Another migrations folder (tests use project copies). */
  directory?: string;
  /** The local PostgreSQL binaries, for the proof's throwaway server where the target's role may not create databases. */
  pgBin?: string;
  /** A test hook (KAPMAN_SQUASH_PAUSE_BEFORE_STEP): wait before putting-in-place step N, so that a test can kill the squash there. */
  pauseBeforeStep?: number;
}

export interface SquashResult {
  baseline: string;
  /** The files folded into it, now in the squashed folder. */
  squashed: string[];
  /** The comparisons of a database built by each, all empty of differences. */
  proof: Comparison[];
  proofMs: number;
  /** The server that held the two scratch databases: the target's, or a throwaway local one. */
  proofServer: string;
  /** The files written, relative to the project. */
  written: string[];
}

const NUMBERED = /^(\d{4})_/;
const number = (file: string) => NUMBERED.exec(file)?.[1] ?? '9999';
const LABELS: [string, string] = ['the squashed migrations', 'the baseline'];

/** `--through NNNN` where it leaves at least two files to fold before `file`: undefined where none does. */
function throughBefore(chosen: string[], file: string): string | undefined {
  const before = chosen.filter((f) => f < file);
  return before.length >= 2 ? number(before[before.length - 1]) : undefined;
}

/** The files to fold: every migration, or those numbered up to `through`. */
function chosenFiles(files: string[], through: string | undefined, directory: string): string[] {
  if (through !== undefined && !/^\d{4}$/.test(through)) {
    throw new UsageError(`--through ${through} is not a migration number`, 'give the four digits of the last migration to fold in, as `npm run db:status` lists it, e.g. --through 0008');
  }
  if (through !== undefined && !files.some((f) => f.startsWith(`${through}_`))) {
    throw new UsageError(`no migration ${through}_… in ${directory}`, 'give the number of a migration `npm run db:status` lists');
  }
  const chosen = through === undefined ? files : files.filter((f) => number(f) <= through);
  if (chosen.length < 2) {
    throw new SquashRefusedError(`nothing to squash: ${chosen.length ? `${chosen[0]} is` : 'there are no migrations'} ${through ? `up to ${through}` : 'in the folder'}, and one file is already a baseline`,
      'squash once at least two migrations lie before the point, e.g. after `npm run db:new`');
  }
  return chosen;
}

/** Refuses when db/ holds uncommitted changes: the squash's own change must be the one to review. */
function refuseDirty(dbDir: string): void {
  const git = spawnSync('git', ['status', '--porcelain', '--', '.'], { cwd: dbDir, encoding: 'utf8' });
  if (git.status !== 0 || git.error) {
    throw new SquashRefusedError(`${dbDir} is not in a git work tree (${(git.stderr || git.error?.message || '').trim().split('\n')[0]}): the squash could not be reviewed or undone; nothing was written`,
      'commit the project to git first, or go on anyway with --allow-dirty');
  }
  if (git.stdout.trim()) {
    throw new SquashRefusedError(`${dbDir} has uncommitted changes (${git.stdout.trim().split('\n').map((l) => l.slice(3)).join(', ')}); nothing was written`,
      'commit or stash them first, so the squash is a change of its own to review (`git stash -u`), or go on anyway with --allow-dirty');
  }
}

/** Refuses unless the target applied every file to fold, as written: the squash records their checksums as applied there. */
async function refuseUnapplied(settings: Settings, source: MigrationFiles, chosen: string[]): Promise<Record<string, string>> {
  const fold = await foldOf(settings, source.directory);
  const refused = carryForwardRefusal(fold, settings.database, source.directory);
  if (refused) throw refused;
  // Only the files to fold: the applied migrations after them are no business of the squash.
  const states = migrationStates((await source.checksums()).filter((f) => chosen.includes(f.name)), fold.applied)
    .filter((s) => chosen.includes(s.name));
  const pending = states.filter((s) => s.state === 'pending').map((s) => s.name);
  if (pending.length) {
    const through = throughBefore(chosen, pending[0]);
    throw new SquashRefusedError(`${count(pending.length, 'migration')} to squash ${pending.length === 1 ? 'is' : 'are'} pending on ${settings.database}: ${pending.join(', ')}; nothing was written`,
      `apply them first with \`npm run db:migrate\` (the squash folds only what databases have applied)${through ? `, or squash only those before them with --through ${through}` : ''}`);
  }
  const edited = states.filter((s) => s.state === 'edited since applied').map((s) => s.name);
  if (edited.length) {
    throw new SquashRefusedError(`${edited.join(', ')} ${edited.length === 1 ? 'was' : 'were'} edited after ${settings.database} applied ${edited.length === 1 ? 'it' : 'them'}; nothing was written`,
      'bring the file back as it was applied (`git diff` / `git checkout -- <file>`), then squash; `npm run db:verify` shows the checksums');
  }
  return Object.fromEntries(states.map((s) => [s.name, s.current!]));
}

/** Where the hint goes for what the baseline cannot make or would build otherwise: `--through` only where two files could still be folded. */
function keepHint(chosen: string[]): string {
  const range = chosen.length >= 3 ? `${number(chosen[1])} to ${number(chosen[chosen.length - 2])}` : '';
  return `keep the migrations that make it: squash only those before the first of them, with --through NNNN${range ? ` (NNNN from ${range})` : ''}, or keep every migration as it is`;
}

/** The baseline migration's TypeScript: its header, what it squashed, and the statements to build and to drop. */
export function baselineSource(live: LiveSchema, q: (name: string) => string, squashes: Record<string, string>, extras: Extras = {}): string {
  const names = Object.keys(squashes);
  const up = schemaStatements(live, q, extras).flat();
  const down = dropStatements(live, q, extras);
  // Each statement as a template literal, its backslashes, backticks and ${ escaped (\u0060: a backtick).
  const template = (sql: string) => `  \u0060${sql.replace(/[\\\u0060]|\$\{/g, (m) => `\\${m}`)}\u0060,`;
  return `import type { Knex } from 'knex';

// Baseline: the schema that ${names[0]} to ${names[names.length - 1]} built, folded into one
// migration by \`npm run db:squash\` (those files are in db/squashed/, which nothing runs).
// Why: a fresh database runs one file instead of ${names.length}, and the schema reads in one place.
// Its statements were generated from a database the squashed migrations built, and a database
// built by this file was proven identical to it before the file was written: everything the
// schema reader sees (every schema, TimescaleDB's catalog, access, comments, settings, owners,
// seed rows and sequence states), each against the contract, and pg_dump --schema-only. A
// database that applied the squashed migrations is carried past this one by \`npm run db:migrate\`,
// without a rebuild. The lint reads it as the replay of migrations it checked before.
// Never edit it: write the next migration instead.

/** The migrations this baseline replaced, with the sha256 each had as applied. */
export const squashes: Record<string, string> = {
${names.map((n) => `  '${n}': '${squashes[n]}',`).join('\n')}
};

const UP = [
${up.map(template).join('\n')}
];

// Extensions stay installed, as the squashed migrations' downs left them.
const DOWN = [
${down.map(template).join('\n')}
];

export async function up(knex: Knex): Promise<void> {
  for (const sql of UP) await knex.raw(sql);
}

export async function down(knex: Knex): Promise<void> {
  for (const sql of DOWN) await knex.raw(sql);
}
`;
}

/** The rows of each table that holds some, as literals, written so that they read back the same in any session. */
async function readSeed(c: Client, live: LiveSchema): Promise<Record<string, string[][]>> {
  for (const [name, value] of Object.entries(PORTABLE_TEXT)) await c.query('SELECT set_config($1, $2, false)', [name, value]);
  const seed: Record<string, string[][]> = {};
  for (const t of live.tables.filter((x) => live.data?.rows[x.name]?.rows)) {
    seed[t.name] = await readSeedRows(queryOn(c), t.name, insertableColumns(t).map((col) => col.name), (part) => c.escapeIdentifier(part));
  }
  return seed;
}

/** The baseline's text, generated from the database the old migrations built; refused by name where it cannot make something. */
async function generate(old: Settings, squashes: Record<string, string>, chosen: string[]): Promise<string> {
  return withClient(old, async (c) => {
    const live = await readSchema(c, { data: true });
    const cannot = unmakeable(live);
    if (cannot.length) {
      throw new SquashRefusedError(`the baseline cannot make ${count(cannot.length, 'thing')} the migrations built; nothing was written: ${cannot.join('; ')}`, keepHint(chosen));
    }
    const owners = Object.fromEntries((await misownedObjects(c)).map((m) => [m.item, m.owner]));
    const { rows: [{ role }] } = await c.query('SELECT quote_ident(current_user) AS role');
    const seed = await readSeed(c, live);
    return baselineSource(live, await identQuoter(c, live, { owners }), squashes, { seed, owners, role });
  });
}

/** Builds the baseline (and, after it, the migrations it leaves) on a scratch database; a failure is the generator's, named, not a file to fix. */
async function build(fresh: Settings, directory: string, what: string, chosen: string[]): Promise<void> {
  try {
    await applyMigrations(fresh, { directory });
  } catch (err) {
    if (!(err instanceof MigrationFailedError)) throw err;
    throw new SquashRefusedError(`${what} failed on a scratch database, so nothing was written: ${err.message}`,
      `the generator wrote a statement this schema does not take (above); ${keepHint(chosen)}`, { cause: err });
  }
}

/** Builds the old migrations and the baseline on two scratch databases and compares them; returns the baseline's text and db/schema.sql's. */
async function prove(settings: Settings, pgBin: string | undefined, source: MigrationFiles, chosen: string[], baseline: string, squashes: Record<string, string>) {
  const started = Date.now();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-squash-'));
  try {
    return await withScratchServer(settings, pgBin, (server) => withScratchDatabase(server, async (old) => {
      await applyMigrations(old, { directory: source.directory, only: chosen });
      const text = await generate(old, squashes, chosen);
      fs.writeFileSync(path.join(tmp, baseline), text);
      return withScratchDatabase(server, async (fresh) => {
        await build(fresh, tmp, `the generated ${baseline}`, chosen);
        const proof = await compareDatabases(old, fresh, LABELS);
        const proofMs = Date.now() - started;
        // db/schema.sql describes the folder as the squash leaves it: the baseline, then the migrations after it, applied on top.
        const rest = migrationFilesIn(source.directory).filter((f) => !chosen.includes(f));
        for (const f of rest) fs.copyFileSync(path.join(source.directory, f), path.join(tmp, f));
        if (rest.length && proof.every((c) => c.differences.length === 0)) await build(fresh, tmp, `${rest.join(', ')}, applied after the generated ${baseline},`, chosen);
        return { text, proof, proofMs, proofServer: server.displayUrl, schemaSql: await withClient(fresh, schemaSqlOf) };
      });
    }));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

export async function squash(settings: Settings, o: SquashOptions = {}): Promise<SquashResult> {
  const directory = o.directory ?? MIGRATIONS_DIR;
  const dbDir = path.dirname(directory);
  const unfinished = unfinishedSquashRefusal(directory);
  if (unfinished) throw unfinished;
  removeStaleStaging(path.dirname(dbDir));
  const squashedDir = squashedDirOf(directory);
  const source = new MigrationFiles(directory);
  const chosen = chosenFiles(await source.getMigrations(), o.through, directory);
  const baseline = `${number(chosen[chosen.length - 1])}_baseline.ts`;
  const clashes = [...chosen.map((f) => path.join(squashedDir, f)), path.join(directory, baseline)].filter((f) => fs.existsSync(f));
  if (clashes.length) {
    throw new SquashRefusedError(`${clashes.map((f) => projectPath(dbDir, f)).join(', ')} exists already; nothing was written`, 'move it away or rename it, then squash');
  }
  if (!o.allowDirty) refuseDirty(dbDir);
  const squashes = await refuseUnapplied(settings, source, chosen);
  log(`proving that ${baseline} builds what ${count(chosen.length, 'migration')} built, on two scratch databases`);
  const { text, proof, proofMs, proofServer, schemaSql } = await prove(settings, o.pgBin, source, chosen, baseline, squashes);
  for (const c of proof) {
    detail(`${c.check}: ${c.differences.length ? `${count(c.differences.length, 'difference')}` : 'identical'} (${c.covered}; ${c.ms} ms)`);
    for (const note of c.notes ?? []) detail(`  note: ${note}`);
  }
  const differing = proof.filter((c) => c.differences.length);
  if (differing.length) {
    for (const c of differing) for (const d of c.differences) detail(`${c.check}: ${d}`);
    const err = new SquashRefusedError(`the baseline would not build what the migrations built (${differing.map((c) => c.check).join(', ')} differ, as listed above); nothing was written`,
      `the schema holds something the generated baseline makes otherwise (the differences above); ${keepHint(chosen)}`);
    err.result = { proof };
    throw err;
  }
  log(`proof: identical on ${proof.map((c) => c.check).join(', ')}, in ${(proofMs / 1000).toFixed(1)} s`);
  const schemaFile = path.join(dbDir, 'schema.sql');
  const plan: SquashPlan = { baseline, squashed: chosen, schemaSql: fs.existsSync(schemaFile) && fs.readFileSync(schemaFile, 'utf8') !== schemaSql };
  await putInPlace(directory, plan, { baseline: text, schemaSql }, o.pauseBeforeStep);
  reviewLines(dbDir, plan);
  const written = [projectPath(dbDir, path.join(directory, baseline)), ...(plan.schemaSql ? [projectPath(dbDir, schemaFile)] : [])];
  return { baseline, squashed: chosen, proof, proofMs, proofServer, written };
}

