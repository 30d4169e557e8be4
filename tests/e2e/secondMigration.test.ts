// Slow (a whole `npm test` of its own, about a minute): the README's "Writing the next
// migration" steps, done as written for a watchlists table in a copy of the project, leave that
// copy's own suite green.
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
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

const WATCHLISTS_UP = `export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('watchlists', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.string('name', 100).notNullable();
    t.uuid('ticker_id').notNullable().references('id').inTable('tickers').onDelete('CASCADE');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.raw('now()'));
    t.index(['ticker_id']);
  });
}`;
const WATCHLISTS_DOWN = `export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('watchlists');
}`;
function npm(args: string[], env: Record<string, string | undefined>): { code: number | null; out: string } {
  const r = spawnSync('npm', ['run', '-s', ...args], {
    cwd: copy, encoding: 'utf8', maxBuffer: 64 << 20,
    env: { ...process.env, NODE_ENV: undefined, DATABASE_URL: undefined, KAPMAN_DEBUG: undefined, ...env },
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

test("the README's steps for a watchlists table leave the copy's npm test green", async () => {
  const dev = await createMigratedDatabase('_second'); // stands for the development database, at the baseline
  const target = { DATABASE_URL: dev.url };

  const made = npm(['db:new', '--', 'add', 'watchlists'], {});
  expect(made).toMatchObject({ code: 0 });
  const file = /created (db\/migrations\/\d{4}_add_watchlists\.ts)/.exec(made.out)![1];
  const stub = fs.readFileSync(path.join(copy, file), 'utf8');
  const migration = stub
    .replace(/export async function up\(knex: Knex\)[^]*?\n}/, WATCHLISTS_UP)
    .replace(/export async function down\(knex: Knex\)[^]*?\n}/, WATCHLISTS_DOWN)
    .replace(/\/\/ Why: [^]*?\n(?=export)/, "// Why: a user's watchlists, one row per ticker on a list; deleting a ticker takes it off every list.\n");
  expect(migration).toContain(WATCHLISTS_UP);
  fs.writeFileSync(path.join(copy, file), migration);

  const planned = npm(['db:migrate', '--', '--dry-run'], target);
  expect({ code: planned.code, sql: /\ncreate table "watchlists" \([^\n]*\);\n/.test(planned.out) }).toEqual({ code: 0, sql: true });
  const linted = npm(['db:lint'], target);
  expect({ code: linted.code, out: linted.out }).toEqual({ code: 0, out: expect.stringMatching(/lint: 0 findings in 1 migration/) });
  expect(npm(['db:migrate'], target)).toMatchObject({ code: 0 });

  // The contract: db:verify prints the entry it lacks, which is pasted where the tables end.
  const differs = npm(['db:verify'], target);
  expect(differs.code).toBe(11);
  const entry = differs.out.split('\n').filter((l) => l && !l.startsWith('kapman: ')).join('\n');
  expect(entry).toMatch(/^\/\/ in tables: \[\.\.\.\]\n {4}\{\n {6}name: 'watchlists',/);
  const contractFile = path.join(copy, 'db', 'contract.ts');
  const contract = fs.readFileSync(contractFile, 'utf8');
  expect(contract).toMatch(/\n {2}\],\n {2}hypertables:/);
  fs.writeFileSync(contractFile, contract.replace(/\n {2}\],\n {2}hypertables:/, `\n${entry}\n  ],\n  hypertables:`));

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
});
