// Compares a live database with the schema contract (db/contract.ts): what db:verify, db:reset and
// db:restore report.
import { CONTRACT, TABLE_NAMES } from '../../../db/contract';
import { MigrationFiles } from '../../../db/migrationSource';
import type { Client } from 'pg';
import { withTransaction } from '../server/connection';
import { briefValues, Difference, diffMigrations, diffSchema } from './drift';
import { ContractMismatchError, KapmanError, SchemaDriftError } from '../cli/errors';
import { contractEntries } from './contractEntry';
import { reconcileExpressions } from './expressions';
import { LiveSchema, misownedObjects, readAppliedMigrations, readSchema, rowCounts } from './introspect';
import { count, log, plain } from '../cli/log';
import { Settings } from '../server/settings';

export interface VerifyOptions {
  /** Also require every contract table to be empty. */
  empty?: boolean;
  /** The migrations folder whose files the applied migrations are checked against. */
  migrationsDirectory?: string;
  /** The session that parses CHECKs, defaults and indexes again to compare their meaning, where `client` may not (read-only). */
  probeOn?: Client;
  /** The database's schema, already read on `client` by a caller that compares it otherwise too: not read twice. */
  read?: LiveSchema;
}

export interface VerifyReport {
  database: string;
  ok: boolean;
  differences: Difference[];
  /** Rows per contract table, when --empty asked for them. */
  rowCounts?: Record<string, number>;
  /** Contract tables that hold rows, when --empty asked. */
  notEmpty: string[];
  /** The contract entries for what differs, as db/contract.ts writes them, to review and paste. */
  contractEntries?: string;
}

export async function verify(settings: Settings, o: VerifyOptions = {}): Promise<VerifyReport> {
  return withTransaction(settings, (client) => verifyOn(client, settings.database, o));
}

/** The same on an open session, inside its transaction (an in-place reset verifies before it commits). */
export async function verifyOn(client: Client, database: string, o: VerifyOptions = {}): Promise<VerifyReport> {
  // CHECKs, defaults and indexes compared by meaning: a restored database deparses them differently.
  const live = await reconcileExpressions(o.probeOn ?? client, CONTRACT, o.read ?? await readSchema(client));
  const source = new MigrationFiles(o.migrationsDirectory);
  const [files, baselines] = [await source.checksums(), await source.baselines({ squashed: true })];
  const misowned = (await misownedObjects(client)).map((m): Difference => ({
    group: 'ownership', kind: 'changed', item: `owner of ${m.item}`, expected: m.expected, actual: m.owner,
  }));
  const differences = [...diffSchema(CONTRACT, live), ...diffMigrations(files, await readAppliedMigrations(client), baselines), ...misowned];
  const counts = o.empty ? await rowCounts(client, TABLE_NAMES, live.tables.map((t) => t.name)) : undefined;
  const notEmpty = Object.entries(counts ?? {}).filter(([, n]) => n > 0).map(([t]) => t);
  const entries = contractEntries(live, differences);
  return { database, ok: differences.length === 0 && notEmpty.length === 0, differences, rowCounts: counts, notEmpty, ...(entries ? { contractEntries: entries } : {}) };
}

/** The report for a person: one line per difference, grouped by table. */
export function formatReport(r: VerifyReport): string {
  if (r.ok) {
    const emptiness = r.rowCounts ? ', every table empty' : '';
    return `database ${r.database} matches the contract: ${count(TABLE_NAMES.length, 'table')}, ${count(CONTRACT.hypertables.length, 'hypertable')}, every migration applied as written${emptiness}`;
  }
  const lines = [`database ${r.database} differs from the contract (${count(r.differences.length, 'difference')}${r.notEmpty.length ? `, ${count(r.notEmpty.length, 'table')} not empty` : ''}):`];
  let group = '';
  for (const d of r.differences) {
    if (d.group !== group) lines.push(`  ${(group = d.group)}:`);
    const [expected, actual] = briefValues(d);
    const detail = d.kind === 'changed' ? `: expected ${expected}, found ${actual}`
      : d.kind === 'missing' && d.expected ? `: expected ${expected}${d.actual ? `; ${d.actual}` : ''}`
      : d.kind === 'unexpected' && actual !== 'present' ? `: ${actual}` : '';
    lines.push(`    ${d.kind} ${d.item}${detail}`);
  }
  for (const t of r.notEmpty) lines.push(`  ${t}: not empty (${count(r.rowCounts![t], 'row')})`);

  return lines.join('\n');
}

/**
 * Prints the report; a database that differs is a SchemaDriftError, or `mismatch` when the
 * database was just built from the migrations (then the migrations and the contract disagree).
 */
export function reportVerification(r: VerifyReport, mismatch?: () => KapmanError): void {
  for (const line of formatReport(r).split('\n')) log(line);
  if (r.contractEntries) {
    log('if the database is right, these are the entries for db/contract.ts as the database has them (review, then paste over the old ones):');
    plain(r.contractEntries);
  }
  if (r.ok) return;
  const err = mismatch?.() ?? new SchemaDriftError(`database ${r.database} does not match the contract`, driftHint(r));
  err.result = r;
  throw err;
}

/**
 * Where to go from a difference. A reset helps only when the migrations build the contract (it
 * refuses otherwise, exit 27), so the migrations and the contract are put right first.
 */
function driftHint(r: VerifyReport): string {
  const migrations = r.differences.filter((d) => d.group === 'migrations');
  if (migrations.some((d) => d.kind === 'missing' && (d.item.startsWith('migration ') || d.item.startsWith('record of ')))) {
    return 'apply the pending migrations with `npm run db:migrate`; if it still differs, make db/contract.ts describe what the migrations build';
  }
  if (migrations.length) {
    return 'bring back each migration file as it was applied (git), or rebuild the database from the files now with `npm run db:reset` (deletes its data)';
  }
  const tablesOnly = r.differences.length === 0;
  if (tablesOnly) return 'empty the tables that hold rows, or run without --empty';
  return 'if a migration made the change, make db/contract.ts describe what the migrations build (`npm run db:reset` refuses until they agree); '
    + 'if it was made by hand, `npm run db:reset` rebuilds the database from the migrations (deletes its data)';
}

/** For a database built from the migrations just now: they do not build what the contract says. */
export const contractMismatch = (target: string) => () => new ContractMismatchError(
  `the migrations do not build what db/contract.ts describes; ${target} was not changed`,
  'make db/contract.ts and the migration agree (the differences are listed above; db/contract.ts is the expected side)');
