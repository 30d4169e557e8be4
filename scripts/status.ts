// `npm run db:status`: which migrations are applied and which are pending, like `dbmate status`.
// Read-only: unlike `knex migrate:status`, it creates no bookkeeping table.
import { MigrationFiles } from '../db/migrationSource';
import type { KapmanCommand } from './command';
import { MigrationsNotAppliedError } from './lib/cli/errors';
import { withTransaction } from './lib/server/connection';
import { MigrationState, migrationStates } from './lib/schema/drift';
import { readAppliedMigrations } from './lib/schema/introspect';
import { detail, log } from './lib/cli/log';
import { Settings } from './lib/server/settings';

export async function status(settings: Settings, o: { migrationsDirectory?: string } = {}): Promise<MigrationState[]> {
  const files = await new MigrationFiles(o.migrationsDirectory).checksums();
  const applied = await withTransaction(settings, readAppliedMigrations);
  // A migration applied before checksums were kept counts as applied here; db:verify flags it.
  return migrationStates(files, applied).map(({ name, state }) => ({ name, state: state === 'applied, no checksum recorded' ? 'applied' : state }));
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

export const command: KapmanCommand<{ check: boolean }, { database: string; migrations: MigrationState[] }> = {
  database: true,
  options: (y) => y
    .option('check', { type: 'boolean', default: false, describe: 'fail (exit 29) unless every migration is applied as written: none pending, edited or missing' }),
  run: async (args, settings) => {
    const states = await status(settings);
    log(`migrations of ${settings.displayUrl}:`);
    for (const s of states) detail(`${MARK[s.state]} ${s.name}${s.state === 'applied' || s.state === 'pending' ? '' : ` (${s.state})`}`);
    const n = (state: MigrationState['state']) => states.filter((s) => s.state === state).length;
    const other = states.length - n('applied') - n('pending');
    log(tally(states));
    const result = { database: settings.database, migrations: states };
    if (args.check && other + n('pending') > 0) {
      const err = new MigrationsNotAppliedError(`${settings.database}: ${n('pending')} pending, ${other} edited or missing`,
        other ? 'an edited [!] or missing [?] file: bring back the file as it was applied (git), or rebuild the database with `npm run db:reset`'
          : 'apply them with `npm run db:migrate`');
      err.result = result;
      throw err;
    }
    return result;
  },
  outcome: (r) => `migrations of ${r.database}: ${tally(r.migrations)}`,
};
