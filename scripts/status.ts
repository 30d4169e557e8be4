// `npm run db:status`: which migrations are applied and which are pending, like `dbmate status`;
// a baseline with what it squashed folded under it. Read-only: unlike `knex migrate:status`,
// it creates no bookkeeping table.
import { MigrationFiles } from '../db/migrationSource';
import type { KapmanCommand } from './command';
import { MigrationsNotAppliedError } from './lib/cli/errors';
import { withTransaction } from './lib/server/connection';
import { foldSquashed, MigrationState, migrationStates } from './lib/schema/drift';
import { readAppliedMigrations, readSquashedMigrations, SquashedMigration } from './lib/schema/introspect';
import { carryForwardRefusal } from './lib/migrations/carryForward';
import { count, detail, log } from './lib/cli/log';
import { Settings } from './lib/server/settings';

export interface Status {
  database: string;
  migrations: MigrationState[];
  /** What this database applied before a squash replaced it. */
  squashed: SquashedMigration[];
  /** Why the database cannot be carried past a squash, when it cannot. */
  refused?: string;
}

export async function status(settings: Settings, o: { migrationsDirectory?: string } = {}): Promise<Status> {
  const source = new MigrationFiles(o.migrationsDirectory);
  const [files, baselines] = [await source.checksums(), await source.baselines({ squashed: true })];
  const { applied, squashed } = await withTransaction(settings, async (c) => ({ applied: await readAppliedMigrations(c), squashed: await readSquashedMigrations(c) }));
  const fold = foldSquashed(files, applied, baselines);
  const toCarry = new Set(fold.carried.map((c) => c.baseline));
  const squashes = new Map(baselines.map((b) => [b.name, Object.keys(b.squashes)]));
  const migrations = migrationStates(files, fold.applied).map((m): MigrationState => ({
    name: m.name,
    // A migration applied before checksums were kept counts as applied here; db:verify flags it.
    state: m.state === 'applied, no checksum recorded' ? 'applied' : m.state,
    ...(squashes.has(m.name) ? { squashes: squashes.get(m.name) } : {}),
    ...(toCarry.has(m.name) ? { toCarry: true } : {}),
  }));
  const refused = carryForwardRefusal(fold, settings.database, o.migrationsDirectory)?.message;
  return { database: settings.database, migrations, squashed, ...(refused ? { refused } : {}) };
}

/** `applied: 8, pending: 0`, and the edited or missing ones when there are. */
function tally(states: MigrationState[]): string {
  const n = (state: MigrationState['state']) => states.filter((s) => s.state === state).length;
  const other = states.length - n('applied') - n('pending');
  return `applied: ${n('applied')}, pending: ${n('pending')}${other ? `, edited or missing: ${other}` : ''}`;
}

const MARK: Record<MigrationState['state'], string> = {
  applied: '[X]', pending: '[ ]', 'edited since applied': '[!]', 'applied, file missing': '[?]', 'applied, no checksum recorded': '[X]',
};

/** The lines under a baseline: what it squashed, nested for an older baseline, with when this database applied each. */
function foldedLines(names: string[], squashes: Map<string, string[]>, history: SquashedMigration[], depth = 1): string[] {
  return names.flatMap((name) => {
    const applied = history.find((h) => h.name === name);
    const when = applied ? `applied here ${applied.appliedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC, before the squash` : 'squashed';
    return [`${'    '.repeat(depth)}└ ${name} (${when})`, ...foldedLines(squashes.get(name) ?? [], squashes, history, depth + 1)];
  });
}

/** The lines a status prints for its migrations: `[X]`, `[ ]`, `[!]` or `[?]` and the name, a baseline with what it folded under it. */
export function statusLines(result: Status): string[] {
  const squashes = new Map(result.migrations.filter((s) => s.squashes).map((s) => [s.name, s.squashes!]));
  return result.migrations.flatMap((s) => {
    const notes = [
      s.state === 'applied' || s.state === 'pending' ? '' : s.state,
      s.squashes ? `baseline of ${count(s.squashes.length, 'squashed migration')}` : '',
      s.toCarry ? 'applied as the migrations it squashed: `npm run db:migrate` records it' : '',
    ].filter(Boolean);
    return [`${MARK[s.state]} ${s.name}${notes.length ? ` (${notes.join('; ')})` : ''}`, ...foldedLines(s.squashes ?? [], squashes, result.squashed)];
  });
}

/** `status --check`: exit 29 unless every migration is applied as written (none pending, edited or missing). */
export function requireAllApplied(result: Status): void {
  const n = (state: MigrationState['state']) => result.migrations.filter((s) => s.state === state).length;
  const other = result.migrations.length - n('applied') - n('pending');
  if (other + n('pending') === 0) return;
  const err = new MigrationsNotAppliedError(`${result.database}: ${n('pending')} pending, ${other} edited or missing`,
    other ? 'an edited [!] or missing [?] file: bring back the file as it was applied (git), or rebuild the database with `npm run db:reset`'
      : 'apply them with `npm run db:migrate`');
  err.result = result;
  throw err;
}

export const command: KapmanCommand<{ check: boolean }, Status> = {
  database: true,
  options: (y) => y
    .option('check', { type: 'boolean', default: false, describe: 'fail (exit 29) unless every migration is applied as written: none pending, edited or missing' }),
  run: async (args, settings) => {
    const result = await status(settings);
    log(`migrations of ${settings.displayUrl}:`);
    for (const line of statusLines(result)) detail(line);
    if (result.refused) log(result.refused);
    log(tally(result.migrations));
    if (args.check) requireAllApplied(result);
    return result;
  },
  outcome: (r) => `migrations of ${r.database}: ${tally(r.migrations)}`,
};
