// `npm run db:report`: the database's health as one page to look at (coverage, gaps, bad bars,
// watchlists, storage, schema), read in one read-only snapshot: safe on production.
import type { KapmanCommand } from './command';
import { UsageError } from './lib/cli/errors';
import { count, log } from './lib/cli/log';
import type { WrittenReport } from './lib/report/write';

const wholeDays = (value: unknown) => {
  const n = Number(value);
  if (typeof value === 'boolean' || value === '' || !Number.isInteger(n) || n < 1 || n > 3660) {
    throw new UsageError(`--days must be a whole number of days from 1 to 3660, not ${value === '' || value === undefined ? 'nothing' : String(value)}`);
  }
  return n;
};

const written = (r: WrittenReport) => `report written: ${r.file} (${Math.round(r.bytes / 1024)} kB)`;

export const command: KapmanCommand<{ out?: string; days: number }, WrittenReport> = {
  database: true,
  options: (y) => y
    .option('out', { type: 'string', requiresArg: true, describe: 'the page to write (default reports/<database>-<UTC timestamp>.html)' })
    .option('days', { default: 90, requiresArg: true, coerce: wholeDays, describe: 'the window of the coverage and bad-bar panels, in calendar days up to the newest bar' }),
  run: async (args, settings) => {
    log(`reading the health of ${settings.displayUrl} (read-only, in one snapshot)`);
    // Loaded here, not at the top: the charts' library is an ES module, which the tests' module
    // loader cannot require; listing the commands' options loads this file without running it.
    const { writeReport } = await import('./lib/report/write');
    const report = await writeReport(settings, { days: args.days, out: args.out });
    for (const [panel, why] of Object.entries(report.leftOut)) log(`${panel}: left out: ${why}`);
    if (report.schema && !report.schema.matches) log(`the database differs from the contract: ${count(report.schema.differences.length, 'difference')} (the page shows them first)`);
    log(written(report));
    return report;
  },
  outcome: (r) => written(r),
};
