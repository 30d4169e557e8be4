// `npm run db:verify`: compare a live database with the schema contract (db/contract.ts).
import type { KapmanCommand } from './lib/cli/cli';
import { reportVerification, verify } from './lib/schema/verify';

export const command: KapmanCommand<{ empty: boolean }> = {
  database: true,
  options: (y) => y
    .option('empty', { type: 'boolean', default: false, describe: 'also require every table to be empty' }),
  run: async (args, settings) => {
    const report = await verify(settings, { empty: args.empty });
    reportVerification(report);
    return report;
  },
};
