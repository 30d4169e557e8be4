// `npm run db:migrate`: apply every pending migration to the target database, in one batch.
import type { CommandModule } from 'yargs';
import { runCli, settingsFromArgs, withEnvironment, withLockTimeout } from './lib/cli/cli';
import { migrate } from './lib/migrations/migrate';


export const command: CommandModule<object, { env: string; 'lock-timeout': number; wait?: boolean; 'wait-timeout': number }> = {
  command: 'db:migrate',
  describe: 'Apply every pending migration (like `knex migrate:latest`)',
  builder: (y) => withLockTimeout(withEnvironment(y))
    .option('wait', { type: 'boolean', default: false, describe: 'wait for the server to accept connections first' })
    .option('wait-timeout', { type: 'number', default: 30, describe: 'seconds --wait waits at most' }),
  handler: async (args) => {
    await migrate(settingsFromArgs(args), { waitMs: args.wait ? args['wait-timeout'] * 1000 : undefined });
  },
};

if (require.main === module) runCli(command, 'npm run db:migrate --');
