// `npm run db:verify`: compare a live database with the schema contract (db/contract.ts).
import type { KapmanCommand } from './command';
import { reportVerification, verify, VerifyReport } from './lib/schema/verify';

export const command: KapmanCommand<{ empty: boolean }, VerifyReport> = {
  database: true,
  options: (y) => y
    .option('empty', { type: 'boolean', default: false, describe: 'also require every table to be empty' }),
  run: async (args, settings) => {
    const report = await verify(settings, { empty: args.empty });
    reportVerification(report);
    return report;
  },
  // Only a match gets here: a difference is an error.
  outcome: (r) => `database ${r.database} matches the contract`,
};
