// `npm run db:verify`: compare a live database with the schema contract (db/contract.ts).
import type { CommandModule } from 'yargs';
import { runCli, settingsFromArgs, withEnvironment } from './lib/cli/cli';
import { SchemaDriftError } from './lib/cli/errors';
import { reportVerification, verify } from './lib/schema/verify';

export const command: CommandModule<object, { env: string; empty?: boolean; json?: boolean }> = {
  command: 'db:verify',
  describe: 'Check a live database against the schema contract (db/contract.ts); exit 0 only when it matches',
  builder: (y) => withEnvironment(y)
    .option('empty', { type: 'boolean', default: false, describe: 'also require every table to be empty' })
    .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON, for scripts' }),
  handler: async (args) => {
    const report = await verify(settingsFromArgs(args), { empty: args.empty });
    try {
      reportVerification(report, args.json);
    } catch (err) {
      if (!args.json) throw err;
      process.exitCode = (err as SchemaDriftError).exitCode; // JSON output stays clean: no error line
    }
  },
};

if (require.main === module) runCli(command, 'npm run db:verify --');
