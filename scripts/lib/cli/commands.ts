// Every command of `kapman-db`, with its one-line description. A command's file is loaded
// only when it runs, so `kapman-db --help` and each command start without loading the others.
import type { KapmanCommand } from './cli';

export interface CommandEntry {
  /** `kapman-db <name>`; the npm script is `db:<name>` (`bench` is `bench`). */
  name: string;
  /** Positionals after the name, in yargs' syntax: `<file>`, `<name..>`. */
  positionals?: string;
  describe: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each command has its own argument type
  load(): KapmanCommand<any>;
}

/* eslint-disable @typescript-eslint/no-require-imports -- loaded on demand, see above */
export const COMMANDS: CommandEntry[] = [
  { name: 'setup', describe: 'Start the development TimescaleDB and migrate it; without Docker, install TimescaleDB first when missing (needs root or sudo)', load: () => require('../../setup').command },
  { name: 'up', describe: 'Start the development TimescaleDB (docker compose, or a local cluster in .pgdata/ without Docker)', load: () => require('../../db-up').command },
  { name: 'down', describe: 'Stop the development TimescaleDB; its data is kept', load: () => require('../../db-down').command },
  { name: 'migrate', describe: 'Apply every pending migration, one batch in one transaction (like `knex migrate:latest`)', load: () => require('../../migrate').command },
  { name: 'rollback', describe: 'Revert the last batch of migrations in one transaction; DROPS the tables it created, with their data', load: () => require('../../rollback').command },
  { name: 'reset', describe: 'DELETES EVERYTHING in the target database: builds the empty baseline beside it from the migrations, verifies it, then swaps it in', load: () => require('../../reset').command },
  { name: 'status', describe: 'List applied [X], pending [ ], edited [!] and missing [?] migrations', load: () => require('../../status').command },
  { name: 'verify', describe: 'Check a live database against the schema contract (db/contract.ts); exit 0 only when it matches', load: () => require('../../verify').command },
  { name: 'backup', describe: 'Write a backup of the target database (pg_dump custom format, metadata in FILE.json beside it)', load: () => require('../../backup').command },
  { name: 'restore', positionals: '<file>', describe: 'REPLACES EVERYTHING in the target database with a backup: restored beside it, verified, then swapped in', load: () => require('../../restore').command },
  { name: 'lint', positionals: '[migrations..]', describe: 'Lint the SQL of the pending migrations (or those named) with squawk and the TimescaleDB rules; exit 35 on a finding', load: () => require('../../lint').command },
  { name: 'new', positionals: '<name..>', describe: 'Write the next migration, db/migrations/<NNNN>_<name>.ts, from the house stub', load: () => require('../../new').command },
  { name: 'schema:dump', describe: 'Write db/schema.sql from a scratch database built by the migrations (needs CREATEDB on the server)', load: () => require('../../schema-dump').command },
  { name: 'erd', describe: 'Write the Mermaid ER diagram of the migrations\' schema into docs/schema.md and README.md', load: () => require('../../erd').command },
  { name: 'bench', describe: 'Benchmark reset, backfill, daily upsert, reads, chunk intervals, backup and restore on a throwaway TimescaleDB', load: () => require('../../bench').command },
];

/** The npm script that runs a command: `db:reset`, and `bench` for the benchmark. */
export const npmScript = (name: string) => (name === 'bench' ? 'bench' : `db:${name}`);
