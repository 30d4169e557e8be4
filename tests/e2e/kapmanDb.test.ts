// One CLI, one set of promises: `kapman-db <command>` run as a process, its shared options,
// --json, the checking commands' --check, and the exit codes and hints.
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { freePort } from '../../scripts/lib/server/localCluster';
import { parseUrl } from '../../scripts/lib/server/settings';
import { ROOT } from '../support/cli';
import { installDockerShim } from '../support/dockerShim';
import { migrationFiles } from '../support/expected';
import { copyProject, removeProject } from '../support/projectCopy';
import { createMigratedDatabase, createTestDatabase, dropMadeDatabases, serverUrl, withDatabase } from '../support/testDatabase';

const copies: string[] = [];
afterAll(async () => {
  for (const c of copies) await removeProject(c);
  await dropMadeDatabases();
});

/** `node <project>/scripts/kapman-db.js …args`, from the project's folder. */
function kapman(args: string[], env: Record<string, string | undefined> = {}, project = ROOT) {
  const r = spawnSync(process.execPath, [path.join(project, 'scripts', 'kapman-db.js'), ...args], {
    cwd: project, encoding: 'utf8', env: { ...process.env, NODE_ENV: undefined, DATABASE_URL: undefined, KAPMAN_DEBUG: undefined, ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const copy = (label: string) => {
  const c = copyProject(label);
  copies.push(c);
  return c;
};

test('--help lists every command as it was started (node scripts/kapman-db.js), --version the package version, and no or an unknown command is exit 2', () => {
  const help = kapman(['--help']);
  expect(help.code).toBe(0);
  for (const name of ['setup', 'up', 'down', 'migrate', 'rollback', 'reset', 'status', 'verify', 'backup', 'restore', 'new', 'schema:dump', 'erd', 'bench']) {
    expect(help.out).toMatch(new RegExp(`^  node scripts/kapman-db\\.js ${name}\\b`, 'm'));
  }
  const version = kapman(['--version']);
  expect(version.out.trim()).toBe(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
  expect(kapman(['-h']).out).toBe(help.out);
  expect(kapman([]).code).toBe(2);
  // Options may come before the command: it still runs (here it fails to connect, exit 4).
  const before = kapman(['--quiet', 'status', '--wait-timeout', '1'], { DATABASE_URL: 'postgres://kapman:kapman@127.0.0.1:1/x' });
  expect(before.code).toBe(4);
  expect(before.err).toMatch(/cannot reach the server/);
  const typo = kapman(['resett']);
  expect(typo.code).toBe(2);
  expect(typo.err).toMatch(/^kapman: error: no command "resett"; the commands are setup, up, down/m);
});

test('--wait-timeout and --lock-timeout take a positive number of seconds; anything else is exit 2 on every database command', () => {
  for (const [command, args] of [['verify', ['--wait', '--wait-timeout', 'abc']], ['status', ['--wait-timeout', '-5']], ['migrate', ['--lock-timeout', '0']], ['reset', ['--lock-timeout', 'soon']]] as const) {
    const r = kapman([command, ...args]);
    expect({ command, code: r.code }).toEqual({ command, code: 2 });
    expect(r.err).toMatch(/^kapman: error: --(wait|lock)-timeout must be a positive number of seconds, not (abc|-5|0|soon)$/m);
    expect(r.err).toMatch(new RegExp(`^kapman: hint: see \`node scripts/kapman-db\\.js ${command} --help\`$`, 'm'));
  }
});

test('--wait waits on every database command (status, here), and its hint is only given where --wait exists', async () => {
  const port = await freePort();
  const unreachable = `postgres://kapman:kapman@127.0.0.1:${port}/kapman_dev`;
  const r = kapman(['status'], { DATABASE_URL: unreachable });
  expect(r.code).toBe(4);
  expect(r.err).toMatch(/pass --wait/);
  const waited = kapman(['status', '--wait', '--wait-timeout', '1'], { DATABASE_URL: unreachable });
  expect(waited.code).toBe(4);
  expect(waited.err).toMatch(/did not accept connections within 1 s/);
});

test('--json: the result alone on stdout, progress on stderr, for migrate, status, verify and reset; an error is JSON too', async () => {
  const db = await createTestDatabase('_json');
  const env = { DATABASE_URL: db.url };
  const migrated = kapman(['migrate', '--json'], env);
  expect(migrated.code).toBe(0);
  const files = fs.readdirSync(path.join(ROOT, 'db', 'migrations')).filter((f) => /^\d{4}_.*\.ts$/.test(f)).sort();
  expect(JSON.parse(migrated.out)).toEqual({ database: db.database, applied: files, carried: [] });
  expect(migrated.err).toMatch(/applying 0001_/);

  const status = JSON.parse(kapman(['status', '--json'], env).out);
  expect(status.migrations).toEqual(files.map((name) => ({ name, state: 'applied' })));
  expect(JSON.parse(kapman(['reset', '--json', '--quiet'], env).out)).toMatchObject({ applied: files, verification: { ok: true } });

  await withDatabase(db, (c) => c.query('CREATE TABLE public.stray (x int)'));
  const drifted = kapman(['verify', '--json'], env);
  expect(drifted.code).toBe(11);
  expect(JSON.parse(drifted.out)).toMatchObject({
    ok: false, differences: [{ group: 'stray', kind: 'unexpected', item: 'table' }], error: { exitCode: 11, class: 'SchemaDriftError' },
  });
});

test('--quiet prints the outcome line alone; KAPMAN_DEBUG is on only for 1 or true', async () => {
  const db = await createMigratedDatabase('_quiet');
  const quiet = kapman(['reset', '--quiet'], { DATABASE_URL: db.url });
  expect({ code: quiet.code, err: quiet.err, out: quiet.out.trim().split('\n') })
    .toEqual({ code: 0, err: '', out: [expect.stringMatching(new RegExp(`^kapman: ${db.database} reset: ${migrationFiles().length} migrations applied`))] });
  const loud = kapman(['reset'], { DATABASE_URL: db.url });
  expect(loud.out).toMatch(/applied 0001_timescaledb\.ts \(\d+ ms\)/);

  const unreachable = { DATABASE_URL: `postgres://kapman:kapman@127.0.0.1:${await freePort()}/x` };
  const stack = /\n\s+at /;
  for (const value of ['0', 'false', 'no', '']) expect(kapman(['verify'], { ...unreachable, KAPMAN_DEBUG: value }).err).not.toMatch(stack);
  for (const value of ['1', 'true', 'TRUE']) expect(kapman(['verify'], { ...unreachable, KAPMAN_DEBUG: value }).err).toMatch(stack);
  expect(kapman(['verify', '--debug'], unreachable).err).toMatch(stack);
});

test('status --check: exit 29 while a migration is pending or its file is missing, 0 when all are applied as written', async () => {
  const db = await createTestDatabase('_check');
  const env = { DATABASE_URL: db.url };
  // An empty database: knex's table does not exist yet, so every file is pending.
  const pending = kapman(['status', '--check'], env);
  expect(pending.code).toBe(29);
  expect(pending.err).toMatch(/^kapman: error: kapman_t_\w+: 8 pending, 0 edited or missing$/m);
  expect(pending.err).toMatch(/npm run db:migrate/);
  expect(kapman(['migrate', '--quiet'], env).code).toBe(0);
  expect(kapman(['status', '--check'], env).code).toBe(0);
});

test('an applied migration whose file is gone: migrate exits 26 naming it, with a hint; status shows it as [?]', async () => {
  const db = await createMigratedDatabase('_gone');
  await withDatabase(db, (c) => c.query("INSERT INTO knex.knex_migrations (name, batch, migration_time) VALUES ('0009_gone.ts', 2, now())"));
  const r = kapman(['migrate'], { DATABASE_URL: db.url });
  expect(r.code).toBe(26);
  expect(r.err).toMatch(/^kapman: error: kapman_t_\w+ has migrations applied whose files are not in db\/migrations\/: 0009_gone\.ts$/m);
  expect(r.err).toMatch(/^kapman: hint: bring the file back .*git log/m);
  expect(r.err).not.toMatch(/corrupt|\n\s+at /);
  const status = kapman(['status', '--check'], { DATABASE_URL: db.url });
  expect(status.out).toMatch(/\[\?\] 0009_gone\.ts \(applied, file missing\)/);
  expect(status.code).toBe(29);
});

test('migrations that no longer build the contract: reset exits 27, says db/contract.ts, and leaves the target as it was', async () => {
  const project = copy('contract');
  fs.writeFileSync(path.join(project, 'db', 'migrations', '0009_watchlists.ts'),
    "import type { Knex } from 'knex';\nexport async function up(knex: Knex) { await knex.raw('CREATE TABLE watchlists (id int)'); }\nexport async function down(knex: Knex) { await knex.raw('DROP TABLE watchlists'); }\n");
  const db = await createMigratedDatabase('_contract');
  await withDatabase(db, (c) => c.query("INSERT INTO tickers (symbol) VALUES ('KEEP')"));
  const r = kapman(['reset'], { DATABASE_URL: db.url }, project);
  expect(r.code).toBe(27);
  expect(r.out).toMatch(/watchlists:\nkapman: +unexpected table/);
  expect(r.err).toMatch(/^kapman: error: the migrations do not build what db\/contract\.ts describes; kapman_t_\w+ was not changed$/m);
  expect(r.err).toMatch(/^kapman: hint: make db\/contract\.ts and the migration agree/m);
  expect(r.err).not.toMatch(/db:reset/); // the hint never names the command that just failed
  expect(await withDatabase(db, async (c) => (await c.query('SELECT symbol FROM tickers')).rows)).toEqual([{ symbol: 'KEEP' }]);
});

test('schema:dump --check and erd --check on a stale file: exit 28 and a unified diff, and nothing written', async () => {
  const project = copy('stale');
  const schemaSql = path.join(project, 'db', 'schema.sql');
  const stale = fs.readFileSync(schemaSql, 'utf8').replace('CREATE TABLE public.tickers', '-- edited by hand\nCREATE TABLE public.tickers');
  fs.writeFileSync(schemaSql, stale);
  const env = { DATABASE_URL: serverUrl() }; // a scratch database is built on its server
  const r = kapman(['schema:dump', '--check'], env, project);
  expect(r.code).toBe(28);
  expect(r.err).toMatch(/^--- db\/schema\.sql \(committed\)$/m);
  expect(r.err).toMatch(/^\+\+\+ db\/schema\.sql \(from the migrations\)$/m);
  expect(r.err).toMatch(/^--- edited by hand$/m);
  expect(r.err).toMatch(/^kapman: error: db\/schema\.sql out of date$/m);
  expect(fs.readFileSync(schemaSql, 'utf8')).toBe(stale);
  const erd = kapman(['erd', '--check'], env, project);
  expect(erd.code).toBe(0);
  expect(erd.out).toMatch(/docs\/schema\.md is current/);
});

test('up --docker with an engine but no Compose v2 plugin: exit 30, one line and a hint, no docker usage text', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-nocompose-'));
  try {
    installDockerShim(dir, { server: { host: '127.0.0.1', port: 1 }, binDir: '/nonexistent', publishedPort: 5432, compose: false, running: false, log: path.join(dir, 'calls') });
    const r = kapman(['up', '--docker'], { PATH: `${dir}:${process.env.PATH}` });
    expect(r.code).toBe(30);
    expect(r.err.trim().split('\n')).toEqual([
      'kapman: error: a Docker engine answers, but `docker compose` (the Compose v2 plugin) does not',
      expect.stringMatching(/^kapman: hint: install the plugin .*--no-docker$/),
    ]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('up --port: serves that port and says so; one that cannot start removes the .pgdata it made; a bad port is exit 2', async () => {
  const project = copy('up');
  const pgdata = path.join(project, '.pgdata');
  expect(kapman(['up', '--port', 'x'], {}, project).code).toBe(2);
  // The test server's port is taken: the new cluster cannot start there.
  const taken = parseUrl(serverUrl()).port;
  const failed = kapman(['up', '--port', String(taken)], {}, project);
  expect(failed.code).toBe(12);
  expect(failed.out).toMatch(/removed .*\.pgdata, which this run had created/);
  expect(fs.existsSync(pgdata)).toBe(false);
  const keptLog = /\(see (\S+)\)$/m.exec(failed.err)?.[1];
  expect(keptLog && !keptLog.startsWith(pgdata) && fs.existsSync(keptLog)).toBe(true);
  fs.rmSync(path.dirname(keptLog!), { recursive: true, force: true });

  const port = await freePort();
  const up = kapman(['up', '--port', String(port)], {}, project);
  expect(up.code).toBe(0);
  expect(up.out).toMatch(new RegExp(`ready: postgres://kapman:\\*{5}@127\\.0\\.0\\.1:${port}/kapman_dev`));
  expect(up.out).toMatch(/set DATABASE_URL to the URL above/);
  const other = kapman(['up', '--port', String(await freePort())], {}, project);
  expect(other.code).toBe(12);
  expect(other.err).toMatch(new RegExp(`already running, on port ${port}`));
  expect(fs.existsSync(pgdata)).toBe(true); // an existing cluster is never removed
  const down = kapman(['down'], {}, project);
  expect(down.out).toMatch(new RegExp(`local server on 127\\.0\\.0\\.1:${port} stopped`));
});
