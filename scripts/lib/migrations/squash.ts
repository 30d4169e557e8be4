// db:squash's work: fold the migrations up to a point into one generated baseline, proven to
// build the identical database before anything is written. The baseline's statements are
// generated from a database the old migrations built; the old files move to the squashed folder.
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import type { Client } from 'pg';
import { MigrationFiles, MIGRATIONS_DIR, squashedDirOf } from '../../../db/migrationSource';
import { SquashRefusedError, UsageError } from '../cli/errors';
import { count, detail, log } from '../cli/log';
import { withClient } from '../server/connection';
import { Settings } from '../server/settings';
import { compareDatabases, Comparison } from '../schema/compare';
import { migrationStates } from '../schema/drift';
import { LiveSchema, readSchema } from '../schema/introspect';
import { identQuoter, schemaSqlOf, schemaStatements } from '../schema/render';
import { carryForwardRefusal, foldOf } from './carryForward';
import { applyMigrations } from './migrate';
import { withScratchDatabase, withScratchServer } from './scratch';

export interface SquashOptions {
  /** The last migration to fold in, by its number (NNNN); every one when absent. */
  through?: string;
  /** Go on though db/ has uncommitted changes (or is not in a git work tree). */
  allowDirty?: boolean;
  /** Another migrations folder (tests use project copies). */
  directory?: string;
  /** The local PostgreSQL binaries, for the proof's throwaway server where the target's role may not create databases. */
  pgBin?: string;
}

export interface SquashResult {
  baseline: string;
  /** The files folded into it, now in the squashed folder. */
  squashed: string[];
  /** The four comparisons of a database built by each, all empty of differences. */
  proof: Comparison[];
  proofMs: number;
  /** The server that held the two scratch databases: the target's, or a throwaway local one. */
  proofServer: string;
  /** The files written, relative to the project. */
  written: string[];
}

const NUMBERED = /^(\d{4})_/;

/** The files to fold: every migration, or those numbered up to `through`. */
function chosenFiles(files: string[], through: string | undefined, directory: string): string[] {
  if (through !== undefined && !/^\d{4}$/.test(through)) {
    throw new UsageError(`--through ${through} is not a migration number`, 'give the four digits of the last migration to fold in, as `npm run db:status` lists it, e.g. --through 0008');
  }
  if (through !== undefined && !files.some((f) => f.startsWith(`${through}_`))) {
    throw new UsageError(`no migration ${through}_… in ${directory}`, 'give the number of a migration `npm run db:status` lists');
  }
  const chosen = through === undefined ? files : files.filter((f) => (NUMBERED.exec(f)?.[1] ?? '9999') <= through);
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
    throw new SquashRefusedError(`${count(pending.length, 'migration')} to squash ${pending.length === 1 ? 'is' : 'are'} pending on ${settings.database}: ${pending.join(', ')}; nothing was written`,
      'apply them first with `npm run db:migrate` (the squash folds only what databases have applied), or squash fewer with --through NNNN');
  }
  const edited = states.filter((s) => s.state === 'edited since applied').map((s) => s.name);
  if (edited.length) {
    throw new SquashRefusedError(`${edited.join(', ')} ${edited.length === 1 ? 'was' : 'were'} edited after ${settings.database} applied ${edited.length === 1 ? 'it' : 'them'}; nothing was written`,
      'bring the file back as it was applied (`git diff` / `git checkout -- <file>`), then squash; `npm run db:verify` shows the checksums');
  }
  return Object.fromEntries(states.map((s) => [s.name, s.current!]));
}

/** The baseline migration's TypeScript: its header, what it squashed, and the statements to build and to drop. */
export function baselineSource(live: LiveSchema, q: (name: string) => string, squashes: Record<string, string>): string {
  const names = Object.keys(squashes);
  const up = schemaStatements(live, q).flat();
  const down = [
    // One table a statement (TimescaleDB drops a hypertable only alone), each before those it references.
    ...dropOrder(live).map((t) => `DROP TABLE public.${q(t)}`),
    ...(Object.keys(live.enums).length ? [`DROP TYPE ${Object.keys(live.enums).sort().map((e) => `public.${q(e)}`).join(', ')}`] : []),
  ];
  // Each statement as a template literal, its backslashes, backticks and ${ escaped (\u0060: a backtick).
  const template = (sql: string) => `  \u0060${sql.replace(/[\\\u0060]|\$\{/g, (m) => `\\${m}`)}\u0060,`;
  return `import type { Knex } from 'knex';

// Baseline: the schema that ${names[0]} to ${names[names.length - 1]} built, folded into one
// migration by \`npm run db:squash\` (those files are in db/squashed/, which nothing runs).
// Why: a fresh database runs one file instead of ${names.length}, and the schema reads in one place.
// Its statements were generated from a database the squashed migrations built, and a database
// built by this file was proven identical to it before the file was written: structure, contract,
// pg_dump --schema-only and TimescaleDB's catalog. A database that applied the squashed
// migrations is carried past this one by \`npm run db:migrate\`, without a rebuild.
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

/** The tables, each after every table whose foreign keys reference it. */
function dropOrder(live: LiveSchema): string[] {
  const references = (t: LiveSchema['tables'][number]) => Object.values(t.constraints)
    .map((def) => /^FOREIGN KEY .* REFERENCES (?:public\.)?"?([^"(]+)"?\(/.exec(def)?.[1]).filter((r): r is string => !!r && r !== t.name);
  const left = [...live.tables].sort((a, b) => a.name.localeCompare(b.name));
  const order: string[] = [];
  while (left.length) {
    // A table no remaining table references; a cycle of references is dropped in name order.
    const at = Math.max(0, left.findIndex((t) => !left.some((o) => o !== t && references(o).includes(t.name))));
    order.push(left.splice(at, 1)[0].name);
  }
  return order;
}

/** Builds the old migrations and the baseline on two scratch databases and compares them; returns the baseline's text and db/schema.sql's. */
async function prove(settings: Settings, pgBin: string | undefined, source: MigrationFiles, chosen: string[], baseline: string, squashes: Record<string, string>) {
  const started = Date.now();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-squash-'));
  try {
    return await withScratchServer(settings, pgBin, (server) => withScratchDatabase(server, async (old) => {
      await applyMigrations(old, { directory: source.directory, only: chosen });
      const text = await withClient(old, async (c: Client) => {
        const live = await readSchema(c);
        return baselineSource(live, await identQuoter(c, live), squashes);
      });
      fs.writeFileSync(path.join(tmp, baseline), text);
      return withScratchDatabase(server, async (fresh) => {
        await applyMigrations(fresh, { directory: tmp });
        const proof = await compareDatabases(old, fresh, ['the squashed migrations', 'the baseline']);
        return { text, proof, proofMs: Date.now() - started, proofServer: server.displayUrl, schemaSql: await withClient(fresh, schemaSqlOf) };
      });
    }));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

export async function squash(settings: Settings, o: SquashOptions = {}): Promise<SquashResult> {
  const directory = o.directory ?? MIGRATIONS_DIR;
  const dbDir = path.dirname(directory);
  const squashedDir = squashedDirOf(directory);
  const source = new MigrationFiles(directory);
  const chosen = chosenFiles(await source.getMigrations(), o.through, directory);
  const baseline = `${NUMBERED.exec(chosen[chosen.length - 1])?.[1] ?? '0000'}_baseline.ts`;
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
    const err = new SquashRefusedError(`the baseline would not build what the migrations built (${differing.map((c) => c.check).join(', ')} differ); nothing was written`,
      'the schema holds something the generated baseline cannot make yet (the differences above); squash fewer with --through NNNN, or keep the migrations as they are');
    err.result = { proof };
    throw err;
  }
  log(`proof: identical on ${proof.map((c) => c.check).join(', ')}, in ${(proofMs / 1000).toFixed(1)} s`);
  fs.mkdirSync(squashedDir, { recursive: true });
  for (const f of chosen) fs.renameSync(path.join(directory, f), path.join(squashedDir, f));
  fs.writeFileSync(path.join(directory, baseline), text, { flag: 'wx' });
  const written = [projectPath(dbDir, path.join(directory, baseline))];
  const schemaFile = path.join(dbDir, 'schema.sql');
  if (fs.existsSync(schemaFile) && fs.readFileSync(schemaFile, 'utf8') !== schemaSql) {
    fs.writeFileSync(schemaFile, schemaSql);
    written.push(projectPath(dbDir, schemaFile));
  }
  log(`moved to ${projectPath(dbDir, squashedDir)}/: ${chosen.join(', ')}`);
  log(`written: ${written.join(', ')}`);
  log('review and commit:');
  for (const line of ['git add -A db/', 'git status --short db/', 'git diff --cached -M --stat db/',
    `git commit -m "Squash ${chosen[0].slice(0, 4)}-${chosen[chosen.length - 1].slice(0, 4)} into ${baseline}"`]) log(`  ${line}`);
  log(`then \`npm run db:migrate\` carries each database migrated before the squash past it, without a rebuild`);
  return { baseline, squashed: chosen, proof, proofMs, proofServer, written };
}

/** `db/…`: a path as the project names it. */
function projectPath(dbDir: string, file: string): string {
  return path.join(path.basename(dbDir), path.relative(dbDir, file));
}
