// `npm run db:status`: which migrations are applied and which are pending, like `dbmate status`.
// Read-only: unlike `knex migrate:status`, it creates no bookkeeping table.
import type { CommandModule } from 'yargs';
import { MigrationFiles } from '../db/migrationSource';
import { runCli, settingsFromArgs, withEnvironment } from './lib/cli/cli';
import { withTransaction } from './lib/server/connection';
import { MigrationState, migrationStates } from './lib/schema/drift';
import { readAppliedMigrations } from './lib/schema/introspect';
import { log } from './lib/cli/log';
import { Settings } from './lib/server/settings';

export async function status(settings: Settings, o: { migrationsDirectory?: string } = {}): Promise<MigrationState[]> {
  const files = await new MigrationFiles(o.migrationsDirectory).checksums();
  const applied = await withTransaction(settings.url, readAppliedMigrations);
  // A migration applied before checksums were kept counts as applied here; db:verify flags it.
  return migrationStates(files, applied).map(({ name, state }) => ({ name, state: state === 'applied, no checksum recorded' ? 'applied' : state }));
}

const MARK: Record<MigrationState['state'], string> = {
  applied: '[X]', pending: '[ ]', 'edited since applied': '[!]', 'applied, file missing': '[?]', 'applied, no checksum recorded': '[X]',
};

export const command: CommandModule<object, { env: string; 'exit-code'?: boolean }> = {
  command: 'db:status',
  describe: 'List applied and pending migrations',
  builder: (y) => withEnvironment(y)
    .option('exit-code', { type: 'boolean', default: false, describe: 'exit 1 when any migration is pending, edited or missing' }),
  handler: async (args) => {
    const settings = settingsFromArgs(args);
    const states = await status(settings);
    log(`migrations of ${settings.displayUrl}:`);
    for (const s of states) log(`${MARK[s.state]} ${s.name}${s.state === 'applied' || s.state === 'pending' ? '' : ` (${s.state})`}`);
    const count = (state: MigrationState['state']) => states.filter((s) => s.state === state).length;
    log(`applied: ${count('applied')}, pending: ${count('pending')}${states.length - count('applied') - count('pending') ? `, other: ${states.length - count('applied') - count('pending')}` : ''}`);
    if (args['exit-code'] && states.some((s) => s.state !== 'applied')) process.exitCode = 1;
  },
};

if (require.main === module) runCli(command, 'npm run db:status --');
