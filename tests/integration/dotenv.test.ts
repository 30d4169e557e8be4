// .env and --env-file: every command reads them, the environment wins, and one line names the
// variables taken, never their values. The project root's own .env is never written here (the
// other test files' commands would read it): --env-file for the commands, a temporary root for the
// default path (the knex CLI's .env: tests/e2e/knexCli.test.ts).
import crypto from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { loadDotEnv } from '../../scripts/lib/cli/dotenv';
import { InvalidSettingsError } from '../../scripts/lib/cli/errors';
import { urlForDatabase } from '../../scripts/lib/server/settings';
import { runInProcess } from '../support/inProcess';
import {
  createMigratedDatabase, createTestRole, dropMadeDatabases, dropMadeRoles, runPrefix, serverUrl, urlAs,
} from '../support/testDatabase';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  await dropMadeDatabases();
  await dropMadeRoles();
});

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-env-'));
  dirs.push(d);
  return d;
}

function envFile(lines: string[]): string {
  const f = path.join(tempDir(), 'test.env');
  fs.writeFileSync(f, `${lines.join('\n')}\n`);
  return f;
}

const passwordOf = (url: string) => decodeURIComponent(new URL(url).password);

test('--env-file: DATABASE_URL and NODE_ENV come from the file, one line names them, no value is printed', async () => {
  // A role of its own, so the password is a random one that no other output could hold.
  const role = await createTestRole('envf', 'SUPERUSER');
  const migrated = await createMigratedDatabase('_envfile');
  const db = { ...migrated, url: urlAs(role, migrated.database) };
  const file = envFile(['# a comment', `DATABASE_URL="${db.url}"`, 'NODE_ENV=test']);
  const r = await runInProcess('verify', ['--env-file', file]);
  expect({ code: r.code, out: r.out }).toEqual({ code: 0, out: expect.stringMatching(/matches the contract/) });
  expect(r.err).toBe(`kapman: ${file}: DATABASE_URL, NODE_ENV\n`);
  expect(r.out + r.err).not.toContain(passwordOf(db.url));

  const production = envFile([`DATABASE_URL=${db.url}`, 'NODE_ENV=production']);
  const refused = await runInProcess('reset', [`--env-file=${production}`]);
  expect(refused.code).toBe(7); // NODE_ENV from the file chose the environment
});

test('variables already in the environment win over the file, and the line says which were kept', async () => {
  const db = await createMigratedDatabase('_envwins');
  const elsewhere = urlForDatabase(serverUrl(), `${runPrefix()}absent_${crypto.randomBytes(3).toString('hex')}`);
  const file = envFile([`DATABASE_URL=${elsewhere}`, 'KAPMAN_EXTRA=1']);
  const r = await runInProcess('verify', ['--env-file', file], { DATABASE_URL: db.url });
  expect(r.code).toBe(0);
  expect(r.err).toBe(`kapman: ${file}: KAPMAN_EXTRA (already set, kept: DATABASE_URL)\n`);
});

test('the default is .env in the project root when it exists; --env-file names a file that must exist', () => {
  const root = tempDir();
  expect(loadDotEnv(root, undefined, {})).toBeUndefined(); // no .env: nothing, no error
  fs.writeFileSync(path.join(root, '.env'), 'A=1\nB="two words"\n');
  const env: NodeJS.ProcessEnv = { B: 'mine' };
  expect(loadDotEnv(root, undefined, env)).toEqual({ label: '.env', taken: ['A'], kept: ['B'] });
  expect(env).toEqual({ A: '1', B: 'mine' });
  expect(() => loadDotEnv(root, path.join(root, 'missing.env'), {})).toThrow(InvalidSettingsError);
});
