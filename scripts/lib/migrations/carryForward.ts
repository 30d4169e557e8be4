// Carrying a database past a squash: a database that applied every migration a baseline
// replaced records the baseline as applied instead of being rebuilt. It is compared first with
// what the migrations build, as the squash's proof compares (compareSchemas), rows aside; its
// history moves to knex.squashed_migrations.
import { spawnSync } from 'child_process';
import path from 'path';
import type { Knex } from 'knex';
import {
  CHECKSUMS_TABLE, MigrationFiles, MIGRATIONS_DIR, MIGRATIONS_SCHEMA, MIGRATIONS_TABLE, recordChecksum, SQUASHED_TABLE,
} from '../../../db/migrationSource';
import { SquashRefusedError } from '../cli/errors';
import { count, log } from '../cli/log';
import { withClient, withTransaction } from '../server/connection';
import { Settings } from '../server/settings';
import { compareSchemas } from '../schema/compare';
import { describeDifference, foldSquashed, inspectionSql, SquashFold } from '../schema/drift';
import { AppliedMigration, readAppliedMigrations } from '../schema/introspect';
import { applyMigrations, withMigrationTransaction } from './migrate';
import { withScratchDatabase, withScratchServer } from './scratch';

export interface Carried {
  baseline: string;
  /** The applied migrations it replaced, now in knex.squashed_migrations. */
  squashed: string[];
}

/** The database's applied migrations read past the baselines of the folder `source` reads (and the older ones squashed). */
export async function foldPast(source: MigrationFiles, applied: AppliedMigration[]): Promise<SquashFold> {
  return foldSquashed(await source.checksums(), applied, await source.baselines({ squashed: true }));
}

/** The same for the target's applied migrations. */
export async function foldOf(settings: Settings, directory?: string): Promise<SquashFold> {
  return foldPast(new MigrationFiles(directory), await withTransaction(settings, readAppliedMigrations));
}

/** The error for a database that cannot be carried past a squash, or nothing when it can. */
export function carryForwardRefusal(fold: SquashFold, database: string, directory = MIGRATIONS_DIR): SquashRefusedError | undefined {
  if (fold.edited) {
    return new SquashRefusedError(`${database} applied ${fold.edited.files.join(', ')} with other content than ${fold.edited.baseline} squashed; nothing changed`,
      `the database was migrated from an edited file: rebuild it with \`npm run db:reset\` (after a backup: \`npm run db:backup\`), or migrate it with the edit undone`);
  }
  if (fold.partway) {
    const { baseline, applied, missing } = fold.partway;
    const before = releaseBefore(directory, baseline);
    return new SquashRefusedError(`${database} applied ${applied.length} of the ${applied.length + missing.length} migrations ${baseline} replaced `
      + `(not ${missing.join(', ')}): it is part-way and cannot be carried past the squash; nothing changed`,
      `migrate it with the release before the squash first, then with this one; with a clean work tree (commit or stash your changes): git checkout ${before.commit} && npm ci && npm run db:migrate && `
      + `git checkout - && npm ci && npm run db:migrate${before.known ? '' : ` (${before.commit}: the commit before the one that added db/migrations/${baseline})`}`);
  }
  return undefined;
}

/** The commit before the one that added the baseline, as git names it; a description when git cannot tell. */
function releaseBefore(directory: string, baseline: string): { commit: string; known: boolean } {
  const added = spawnSync('git', ['log', '-n', '1', '--format=%h', '--diff-filter=A', '--', path.join(directory, baseline)],
    { cwd: directory, encoding: 'utf8' });
  const commit = added.status === 0 ? added.stdout.trim() : '';
  return commit ? { commit: `${commit}~1`, known: true } : { commit: '<the release before the squash>', known: false };
}

/**
 * Records each baseline whose squashed migrations the database applied in full, after checking
 * its structure is what the migrations build (on a scratch database). The caller holds the
 * migration lock. Returns what was carried; nothing when there was nothing to carry.
 */
export async function carryForward(settings: Settings, o: { directory?: string; pgBin?: string } = {}): Promise<Carried[]> {
  // No baseline in the folder (a project never squashed): nothing to read.
  if ((await new MigrationFiles(o.directory).baselines()).length === 0) return [];
  const fold = await foldOf(settings, o.directory);
  const refused = carryForwardRefusal(fold, settings.database, o.directory);
  if (refused) throw refused;
  if (fold.carried.length === 0) return [];
  const built = fold.applied.map((a) => a.name);
  // What the squash's proof compares, by the same code and in the same scope, but for the rows: a live database's are its own.
  const differences = await withScratchServer(settings, o.pgBin, (server) => withScratchDatabase(server, async (scratch) => {
    await applyMigrations(scratch, { directory: o.directory, only: built });
    return withClient(scratch, (expected) => withClient(settings, async (live) => (await compareSchemas(expected, live, { data: false })).differences));
  }));
  if (differences.length) {
    const looks = [...new Set(differences.map(inspectionSql))];
    throw new SquashRefusedError(`${settings.database} is not what its applied migrations build, so it cannot be carried past the squash; nothing changed: `
      + differences.map((d) => describeDifference(d, ['what they build', settings.database])).join('; '),
    `look at ${looks.length === 1 ? 'it' : 'each'} in psql: ${looks.map((sql) => `${sql};`).join(' ')} Then put the database back as the migrations built it by hand, `
      + 'or rebuild it with `npm run db:reset` after `npm run db:backup`; `npm run db:verify` shows the contract\'s view');
  }
  await withMigrationTransaction(settings, { directory: o.directory }, async (trx) => {
    const sha = new Map(fold.applied.map((a) => [a.name, a.sha256]));
    for (const c of fold.carried) await record(trx, c, sha.get(c.baseline)!);
  });
  // Said once committed.
  for (const c of fold.carried) log(`${settings.database} carried past the squash: ${c.baseline} recorded in place of ${count(c.squashed.length, 'applied migration')} (kept in ${MIGRATIONS_SCHEMA}.${SQUASHED_TABLE})`);
  return fold.carried;
}

/** Moves the squashed migrations' rows to the squashed table and records the baseline, in the caller's transaction. */
async function record(trx: Knex.Transaction, c: Carried, sha256: string): Promise<void> {
  const table = (name: string) => `${MIGRATIONS_SCHEMA}.${name}`; // ?? quotes each part
  await recordChecksum(trx, c.baseline, sha256); // creates the checksums table where an old database lacks it
  await trx.raw(`CREATE TABLE IF NOT EXISTS ?? (name varchar(255) NOT NULL, sha256 varchar(64), batch integer, migration_time timestamptz,
    squashed_into varchar(255) NOT NULL, squashed_at timestamptz NOT NULL DEFAULT now(), CONSTRAINT ?? PRIMARY KEY (squashed_into, name))`,
  [table(SQUASHED_TABLE), `${SQUASHED_TABLE}_pkey`]);
  await trx.raw(`INSERT INTO ?? (name, sha256, batch, migration_time, squashed_into)
    SELECT m.name, c.sha256, m.batch, m.migration_time, ? FROM ?? m LEFT JOIN ?? c ON c.name = m.name WHERE m.name = ANY(?) ORDER BY m.id`,
  [table(SQUASHED_TABLE), c.baseline, table(MIGRATIONS_TABLE), table(CHECKSUMS_TABLE), c.squashed]);
  // The batch of the last migration it replaced: a rollback of that batch reverts the baseline with the rest, as before the squash.
  await trx.raw('INSERT INTO ?? (name, batch, migration_time) SELECT ?, max(batch), now() FROM ?? WHERE name = ANY(?)',
    [table(MIGRATIONS_TABLE), c.baseline, table(MIGRATIONS_TABLE), c.squashed]);
  await trx.raw('DELETE FROM ?? WHERE name = ANY(?)', [table(MIGRATIONS_TABLE), c.squashed]);
  await trx.raw('DELETE FROM ?? WHERE name = ANY(?)', [table(CHECKSUMS_TABLE), c.squashed]);
}
