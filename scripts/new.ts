// `npm run db:new -- <name>`: write the next migration, db/migrations/<NNNN>_<snake_name>.ts,
// from the house stub, and say what else a schema change needs. `knex migrate:make` is
// refused (knexfile.ts): it would name the file by timestamp.
import fs from 'fs';
import path from 'path';
import { MIGRATIONS_DIR, squashedDirOf } from '../db/migrationSource';
import type { KapmanCommand } from './command';
import { KapmanError, MigrationExistsError, UsageError } from './lib/cli/errors';
import { log } from './lib/cli/log';
import { unfinishedSquashRefusal } from './lib/migrations/squashJournal';

export interface NewMigrationOptions {
  /** What the migration does, in words: `add ticker exchange`, `addTickerExchange` or `add_ticker_exchange`. */
  name: string;
  /** The migrations folder (tests use temporary ones). */
  directory?: string;
}

export interface WrittenMigration {
  /** The file name, e.g. 0009_add_ticker_exchange.ts. */
  file: string;
  path: string;
}

// knex_migrations.name is varchar(255); a name this long is a sentence anyway.
const MAX_NAME = 100;
const NUMBERED = /^(\d{4})_(.+)\.(ts|js)$/;

/** `Add tickerExchange-2` -> `add_ticker_exchange_2`; refuses what cannot be a file name's part. */
export function migrationName(input: string): string {
  const raw = input.trim();
  if (!raw) throw new UsageError('a migration needs a name', 'say what it does: `npm run db:new -- add_ticker_exchange`');
  if (/[^A-Za-z0-9 _-]/.test(raw)) {
    throw new UsageError(`migration name "${raw}" holds characters other than letters, digits, spaces, - and _`,
      'say what it does, e.g. `npm run db:new -- add_ticker_exchange`; the number and .ts are added for you');
  }
  const snake = raw
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .replace(/[\s_-]+/g, '_')
    .replace(/^_|_$/g, '')
    .toLowerCase();
  if (!/^[a-z]/.test(snake)) {
    throw new UsageError(`migration name "${raw}" must start with a letter`, 'the number is added for you: `npm run db:new -- add_ticker_exchange`');
  }
  if (snake.length > MAX_NAME) throw new UsageError(`migration name "${snake}" is longer than ${MAX_NAME} characters`, 'shorten it');
  return snake;
}

/** The number after the highest NNNN_ file in `files`, four digits. */
export function nextNumber(files: string[]): string {
  const highest = Math.max(0, ...files.map((f) => NUMBERED.exec(f)).filter((m) => m !== null).map((m) => Number(m![1])));
  return String(highest + 1).padStart(4, '0');
}

export function migrationStub(file: string): string {
  return `import type { Knex } from 'knex';

// Why: what this change is for, and the reason behind any choice a reader might question
// (a measurement, a constraint of the ingestion jobs). Once released, never edit this file:
// write the next migration instead.
export async function up(knex: Knex): Promise<void> {
  throw new Error('${file}: up() is not written yet');
}

export async function down(knex: Knex): Promise<void> {
  throw new Error('${file}: down() is not written yet');
}
`;
}

/** What else a schema change needs, after the migration itself. */
export const NEXT_STEPS = [
  'write up() and down(), and the reason in the comment (a foreign key needs an index leading with its columns)',
  'node scripts/kapman-db.js migrate --dry-run  (the SQL it will run, rehearsed; nothing changes)',
  'node scripts/kapman-db.js lint         (squawk and the TimescaleDB rules over that SQL; silence a finding only with a reason)',
  'node scripts/kapman-db.js migrate      (apply it to the development database)',
  'update the contract, db/contract.ts, to the schema it makes: node scripts/kapman-db.js verify prints the entries it lacks, ready to paste; then it passes',
  'node scripts/kapman-db.js schema:dump  (refresh db/schema.sql)',
  'node scripts/kapman-db.js erd          (refresh the diagram in docs/schema.md)',
  'npm test                               (it reads its expectations from db/contract.ts and db/migrations/)',
];

export function newMigration(o: NewMigrationOptions): WrittenMigration {
  const directory = o.directory ?? MIGRATIONS_DIR;
  const name = migrationName(o.name);
  if (!fs.existsSync(directory)) throw new KapmanError(`no migrations folder at ${directory}`);
  const unfinished = unfinishedSquashRefusal(directory);
  if (unfinished) throw unfinished;
  const files = fs.readdirSync(directory);
  // A squash moves its files to db/squashed/: their names stay taken (a database may have applied them).
  const squashedDir = squashedDirOf(directory);
  const squashed = fs.existsSync(squashedDir) ? fs.readdirSync(squashedDir) : [];
  const taken = files.find((f) => NUMBERED.exec(f)?.[2] === name) ?? squashed.find((f) => NUMBERED.exec(f)?.[2] === name);
  if (taken) {
    const where = files.includes(taken) ? taken : `${taken} (in ${path.basename(path.dirname(directory))}/squashed/, folded into a baseline)`;
    throw new MigrationExistsError(`a migration named ${name} exists: ${where}`,
      `migrations are history: change the schema in a new one with another name, e.g. \`npm run db:new -- ${name}_2\``);
  }
  const file = `${nextNumber(files)}_${name}.ts`;
  const target = path.join(directory, file);
  fs.writeFileSync(target, migrationStub(file), { flag: 'wx' }); // wx: never overwrite
  log(`created ${path.relative(process.cwd(), target) || target}`);
  return { file, path: target };
}

export const command: KapmanCommand<{ name: string[] }, WrittenMigration> = {
  database: false,
  // name..: `npm run db:new -- add ticker exchange` needs no quotes.
  options: (y) => y.positional('name', { type: 'string', array: true, demandOption: true, describe: 'what it does, e.g. add_ticker_exchange (snake_cased)' }),
  run: async (args) => {
    const created = newMigration({ name: args.name.join(' ') });
    log('next:');
    for (const s of NEXT_STEPS) log(`  ${s}`);
    return created;
  },
  outcome: (r) => `created ${path.relative(process.cwd(), r.path) || r.path}`,
};
