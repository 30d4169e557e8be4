// How each command line of the README and of docs/ is tested: run (tests/e2e/readme.test.ts, in
// a copy of the project, in this order), or run by .ci/run. tests/integration/readme.test.ts
// checks that this list and the pages' command lines are the same set, so a new line needs an
// entry here.
import fs from 'fs';
import path from 'path';
import { nextNumber } from '../../scripts/new';
import { ROOT } from './cli';
import { migrationFiles } from './expected';

/** What a run may fill in: a free port, the throwaway target's URL, the last backup written. */
export interface RunContext {
  /** The project's copy the lines run in. */
  dir: string;
  port: number;
  url: string;
  backup?: string;
}

export interface Run {
  /** The line actually run, when the README's needs a value filled in or must not meet the development server. */
  as?: (c: RunContext) => string;
  /** `target`: DATABASE_URL is the throwaway database; `none`: no DATABASE_URL (the development server's commands). */
  env: 'target' | 'none';
  code: number;
  /** What the output (stdout and stderr) must hold. */
  output: RegExp;
  /** After a run that passed: what the next ones need. */
  then?: (c: RunContext, output: string) => void;
}

export type Coverage = { ci: string } | { run: Run };

const COMMIT_DB = 'git add -A db && git -c user.name=readme -c user.email=readme@example.com commit -qm db';
const lastNumber = () => migrationFiles()[migrationFiles().length - 1].slice(0, 4);
const BACKUP_WRITTEN = /backup written: (\S+\.dump) \(/;
const EXAMPLE_BACKUP = 'backups/kapman_dev-20250101T120000Z.dump';
const VERSION = new RegExp(`^${(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version.replace(/\./g, '\\.')}$`, 'm');
/** Run from outside the checkout (the root folder), naming the copy where the page says /path/to/checkout. */
const outside = (line: string) => (c: RunContext) => `cd / && ${line.replace('/path/to/checkout', c.dir)}`;
const OUTSIDE_STATUS = 'node /path/to/checkout/scripts/kapman-db.js status';
const OUTSIDE_NPM = 'npm --prefix /path/to/checkout run db:status';
const OUTSIDE_NPX = 'npx --prefix /path/to/checkout kapman-db status';

export const RUNBOOK: Record<string, Coverage> = {
  // .ci/run runs the quick start's two lines as the README has them, then these.
  'npm ci && npm run db:setup': { ci: 'the quick start' },
  'npm test': { ci: 'the quick start' },
  'npm run typecheck': { ci: 'npm run typecheck' },
  'npm run test:e2e': { ci: 'npm run test:e2e' },
  'npm run test:docker': { ci: 'npm run test:docker' },

  // The three forms, from the checkout, on what needs no server.
  'node scripts/kapman-db.js --version': { run: { env: 'none', code: 0, output: VERSION } },
  'npm run -s db:new -- --help': { run: { env: 'none', code: 0, output: /^npm run db:new -- <name\.\.>$/m } },
  'npx kapman-db --version': { run: { env: 'none', code: 0, output: VERSION } },

  // The development server's commands, on a port of the test's own (5432 may be serving already).
  'node scripts/kapman-db.js up': {
    run: { as: (c) => `node scripts/kapman-db.js up --port ${c.port}`, env: 'none', code: 0, output: /ready: postgres:\/\/kapman:\*{5}@127\.0\.0\.1:\d+\/kapman_dev/ },
  },
  'node scripts/kapman-db.js setup': {
    run: { as: (c) => `node scripts/kapman-db.js setup --port ${c.port}`, env: 'none', code: 0, output: /set up: postgres:\/\/kapman:\*{5}@127\.0\.0\.1:\d+\/kapman_dev/ },
  },
  'node scripts/kapman-db.js down': { run: { env: 'none', code: 0, output: /local server on 127\.0\.0\.1:\d+ stopped \(data kept/ } },

  // The target's commands, on a throwaway database of the test server.
  'node scripts/kapman-db.js reset': { run: { env: 'target', code: 0, output: /swapped into place: kapman_t_/ } },
  'node scripts/kapman-db.js migrate': { run: { env: 'target', code: 0, output: /already up to date/ } },
  'npx knex migrate:latest': { run: { env: 'target', code: 0, output: /Already up to date/ } },
  'node scripts/kapman-db.js status': { run: { env: 'target', code: 0, output: new RegExp(`applied: ${migrationFiles().length}, pending: 0`) } },
  // From outside the checkout, naming it: no registry is asked (the e2e test watches).
  [OUTSIDE_STATUS]: { run: { as: outside(OUTSIDE_STATUS), env: 'target', code: 0, output: new RegExp(`applied: ${migrationFiles().length}, pending: 0`) } },
  [OUTSIDE_NPM]: { run: { as: outside(OUTSIDE_NPM), env: 'target', code: 0, output: new RegExp(`applied: ${migrationFiles().length}, pending: 0`) } },
  [OUTSIDE_NPX]: { run: { as: outside(OUTSIDE_NPX), env: 'target', code: 0, output: new RegExp(`applied: ${migrationFiles().length}, pending: 0`) } },
  'node scripts/kapman-db.js verify': { run: { env: 'target', code: 0, output: /matches the contract/ } },
  'node scripts/kapman-db.js lint [FILE…]': { run: { as: () => 'node scripts/kapman-db.js lint', env: 'target', code: 0, output: /nothing to lint: no migration pending/ } },
  'node scripts/kapman-db.js report': { run: { env: 'target', code: 0, output: /report written: \S+\/reports\/kapman_t_\w+-\d{8}T\d{6}Z\.html \(\d+ kB\)/ } },
  'node scripts/kapman-db.js backup': {
    run: { env: 'target', code: 0, output: BACKUP_WRITTEN, then: (c, out) => { c.backup = BACKUP_WRITTEN.exec(out)![1]; } },
  },
  'node scripts/kapman-db.js restore FILE': { run: { as: (c) => `node scripts/kapman-db.js restore ${c.backup}`, env: 'target', code: 0, output: /swapped into place: kapman_t_/ } },
  // Renamed to the README's example name (archive and metadata) for the line after it.
  'npm run db:backup': {
    run: {
      env: 'target', code: 0, output: BACKUP_WRITTEN,
      then: (c, out) => {
        const written = BACKUP_WRITTEN.exec(out)![1];
        for (const suffix of ['', '.json']) fs.renameSync(`${written}${suffix}`, path.join(c.dir, `${EXAMPLE_BACKUP}${suffix}`));
      },
    },
  },
  [`npm run db:restore -- ${EXAMPLE_BACKUP}`]: { run: { env: 'target', code: 0, output: /swapped into place: kapman_t_/ } },
  'node scripts/kapman-db.js rollback': { run: { env: 'target', code: 0, output: new RegExp(`${migrationFiles().length} migrations reverted`) } },
  // A managed service's URL, filled in with the throwaway target's.
  "DATABASE_URL='postgres://tsdbadmin:…@HOST:PORT/tsdb?sslmode=verify-full&sslrootcert=/path/to/ca.crt' npm run db:reset -- --in-place": {
    run: { as: (c) => `DATABASE_URL='${c.url}' npm run db:reset -- --in-place`, env: 'none', code: 0, output: /committed: kapman_t_\w+ is the empty baseline/ },
  },
  // The copy becomes a git repository (db/ committed) so the squash may run; the first folds up
  // to 0004, the second folds that baseline with the rest, and the target is carried past both.
  'node scripts/kapman-db.js squash': {
    run: { as: () => `git init -q && ${COMMIT_DB} && node scripts/kapman-db.js squash --through 0004`, env: 'target', code: 0, output: /proof: identical on structure, contract, pg_dump --schema-only, in [^]*written: db\/migrations\/0004_baseline\.ts/ },
  },
  'npm run db:squash': {
    run: { as: () => `${COMMIT_DB} && npm run db:squash`, env: 'target', code: 0, output: new RegExp(`moved to db/squashed/: 0004_baseline\\.ts, [^\\n]*\\nkapman: written: db/migrations/${lastNumber()}_baseline\\.ts`) },
  },
  'npm run db:migrate': {
    run: { as: () => `${COMMIT_DB} && npm run db:migrate`, env: 'target', code: 0, output: new RegExp(`carried past the squash: ${lastNumber()}_baseline\\.ts recorded in place of ${migrationFiles().length} applied migrations`) },
  },
  'node scripts/kapman-db.js schema:dump': { run: { env: 'target', code: 0, output: /db\/schema\.sql is current/ } },
  'node scripts/kapman-db.js erd': { run: { env: 'target', code: 0, output: /docs\/schema\.md is current/ } },
  'node scripts/kapman-db.js new add ticker exchange': { run: { env: 'none', code: 0, output: new RegExp(`created db/migrations/${nextNumber(migrationFiles())}_add_ticker_exchange\\.ts`) } },
  'node scripts/kapman-db.js new <name>': { run: { as: () => 'node scripts/kapman-db.js new add watchlists', env: 'none', code: 0, output: new RegExp(`created db/migrations/${nextNumber([...migrationFiles(), `${nextNumber(migrationFiles())}_x.ts`])}_add_watchlists\\.ts`) } },
  // The measuring takes many minutes: the run renders the committed results instead.
  'node scripts/kapman-db.js bench': { run: { as: () => 'node scripts/kapman-db.js bench --render-only --no-write', env: 'none', code: 0, output: /(met|MISSED) +db:reset \/ psql floor/ } },
};

export { EXAMPLE_BACKUP };
