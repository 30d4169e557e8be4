// Slow (a whole `npm test` of its own, about a minute): the README's daily loop, done step by
// step (through the npm scripts) for a watchlists table in a copy of the project, leaves that
// copy's own suite green.
import fs from 'fs';
import path from 'path';
import { createdFile, fillStub, npmIn, pasteEntries, printedEntries, WATCHLISTS_DOWN, WATCHLISTS_UP, WATCHLISTS_WHY } from '../support/nextMigration';
import { copyProject, removeProject } from '../support/projectCopy';
import { admin, createMigratedDatabase, createTestRole, dropMadeDatabases, dropMadeRoles, urlAs } from '../support/testDatabase';
import { dropDatabase } from '../../scripts/lib/server/admin';

let copy: string;
beforeAll(() => {
  copy = copyProject('second', { withTests: true });
});
afterAll(async () => {
  await removeProject(copy);
  await dropMadeDatabases();
  await dropMadeRoles();
});

const npm = (args: string[], env: Record<string, string | undefined>) => npmIn(copy, args, env);

// Its work: ten `npm run`s (1-3 s each) and the copy's whole `npm test`, which takes 20 s on a
// quiet 2-core machine and up to 2 minutes on a loaded one (83-118 s measured): 5 minutes
// leaves room for a machine twice as loaded as that.
const SECOND_MIGRATION_LIMIT_MS = 300_000;

test("the README's steps for a watchlists table leave the copy's npm test green", async () => {
  const dev = await createMigratedDatabase('_second'); // stands for the development database, at the baseline
  const target = { DATABASE_URL: dev.url };

  const made = npm(['db:new', '--', 'add', 'watchlists'], {});
  expect(made).toMatchObject({ code: 0 });
  const file = createdFile(made.out);
  expect(file).toMatch(/^db\/migrations\/\d{4}_add_watchlists\.ts$/);
  const migration = fillStub(copy, file, { up: WATCHLISTS_UP, down: WATCHLISTS_DOWN, why: WATCHLISTS_WHY });
  expect(migration).toContain(WATCHLISTS_UP);

  const planned = npm(['db:migrate', '--', '--dry-run'], target);
  expect({ code: planned.code, sql: /\ncreate table "watchlists" \([^\n]*\);\n/.test(planned.out) }).toEqual({ code: 0, sql: true });
  const linted = npm(['db:lint'], target);
  expect({ code: linted.code, out: linted.out }).toEqual({ code: 0, out: expect.stringMatching(/lint: 0 findings in 1 migration/) });
  expect(npm(['db:migrate'], target)).toMatchObject({ code: 0 });

  // The contract: db:verify prints the entry it lacks, which is pasted where the tables end.
  const differs = npm(['db:verify'], target);
  expect(differs.code).toBe(11);
  const entry = printedEntries(differs.out);
  expect(entry).toMatch(/^\/\/ in tables: \[\.\.\.\]\n {4}\{\n {6}name: 'watchlists',/);
  const contract = fs.readFileSync(path.join(copy, 'db', 'contract.ts'), 'utf8');
  expect(contract).not.toMatch(/name: 'watchlists'/);
  pasteEntries(copy, entry);

  for (const step of [['db:verify'], ['db:schema:dump'], ['db:erd']]) {
    const r = npm(step, target);
    expect({ step, code: r.code, out: r.code === 0 ? '' : r.out }).toEqual({ step, code: 0, out: '' });
  }

  // The copy's suite runs as a superuser role of its own: a run drops its user's templates of
  // other contents, and this run's template (of other migrations) must stay for the tests beside it.
  const nested = await createTestRole('second', 'SUPERUSER');
  const suite = npm(['test'], { TEST_DATABASE_URL: urlAs(nested, 'postgres'), KAPMAN_TEST_SERVER_URL: undefined, KAPMAN_TEST_TEMPLATE: undefined, KAPMAN_TEST_RUN: undefined });
  // The copy's run left its template (kept between runs on a TEST_DATABASE_URL server), owned by that role.
  await admin(async (c) => {
    const { rows } = await c.query(`SELECT datname FROM pg_database WHERE starts_with(datname, 'kapman_template_')
      AND datdba = (SELECT oid FROM pg_roles WHERE rolname = $1)`, [nested.name]);
    for (const r of rows) await dropDatabase(c, r.datname);
  });
  expect({ code: suite.code, failed: suite.code === 0 ? '' : suite.out }).toEqual({ code: 0, failed: '' });
  expect(suite.out).toMatch(/Tests: +\d+ passed, \d+ total/);
}, SECOND_MIGRATION_LIMIT_MS);
