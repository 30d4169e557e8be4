// In test:docker: the development server as a Docker user has it, on a real engine. Each test
// file works in a copy of the project under a compose project name of its own, on a free port,
// and removes its containers and volume at the end.
import crypto from 'crypto';
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { Client } from 'pg';
import { freePort } from '../../scripts/lib/server/localCluster';
import { copyProject, removeProject } from '../support/projectCopy';
import { docker, requireDockerEngine } from '../support/docker';

let copy: string;
let env: NodeJS.ProcessEnv;
let port: number;
const project = `kapman_t_${crypto.randomBytes(3).toString('hex')}`;
const url = () => `postgres://kapman:kapman@127.0.0.1:${port}/kapman_dev`;

// A first start as slow as the real image's can be: an init script that takes seconds while the
// temporary server listens on the Unix socket only.
const SLOW_INIT = `services:
  timescaledb:
    volumes:
      - ./slow-init.sh:/docker-entrypoint-initdb.d/999_slow_init.sh:ro
`;
// A health check that asks over the Unix socket, as docker-compose.yml's once did (and a user's may).
const EARLY_HEALTH = `services:
  timescaledb:
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U kapman -d kapman_dev"]
`;

beforeAll(async () => {
  requireDockerEngine();
  copy = copyProject('docker');
  fs.writeFileSync(path.join(copy, 'slow-init.sh'), 'sleep 8\n');
  fs.writeFileSync(path.join(copy, 'slow-init.yml'), SLOW_INIT);
  fs.writeFileSync(path.join(copy, 'early-health.yml'), EARLY_HEALTH);
  port = await freePort();
  env = {
    ...process.env, COMPOSE_PROJECT_NAME: project, KAPMAN_DB_PORT: String(port), NODE_ENV: undefined, DATABASE_URL: url(),
    COMPOSE_FILE: ['docker-compose.yml', 'slow-init.yml', 'early-health.yml'].join(path.delimiter),
  };
});
afterAll(async () => {
  if (copy) docker(['compose', 'down', '--volumes', '--timeout', '5'], { cwd: copy, env });
  if (copy) await removeProject(copy);
});

/** `kapman-db <command> …args` in the copy, as `npx kapman-db` runs it. */
function kapman(args: string[], more: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [path.join('scripts', 'kapman-db.js'), ...args], { cwd: copy, env: { ...env, ...more }, encoding: 'utf8' });
  return { code: r.status, said: r.stdout + r.stderr };
}
const volumeExists = () => docker(['volume', 'ls', '-q', '--filter', `name=${project}_kapman_pgdata`]).out.trim() !== '';
const query = async (sql: string) => {
  const c = new Client({ connectionString: url() });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
};

test('docker compose up --wait on a new volume returns only once the server takes a TCP connection (the health check asks over TCP)', async () => {
  const own = { ...env, COMPOSE_PROJECT_NAME: `${project}_hc`, COMPOSE_FILE: ['docker-compose.yml', 'slow-init.yml'].join(path.delimiter) };
  try {
    expect(docker(['compose', 'up', '-d', '--wait'], { cwd: copy, env: own }).code).toBe(0);
    const c = new Client({ connectionString: url() });
    await c.connect(); // at once: no retry
    expect((await c.query("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")).rows).toHaveLength(1);
    await c.end();
  } finally {
    docker(['compose', 'down', '--volumes', '--timeout', '5'], { cwd: copy, env: own });
  }
});

test('db:up on a new volume says ready only when it is, even where the health check says healthy early: db:status right after it answers', () => {
  expect(volumeExists()).toBe(false);
  const up = kapman(['up', '--port', String(port)]);
  expect(up.said).toContain('starting the docker compose service (timescaledb)');
  expect(up.said).toContain(`ready: postgres://kapman:*****@127.0.0.1:${port}/kapman_dev`);
  expect(up.code).toBe(0);
  expect(volumeExists()).toBe(true);
  const status = kapman(['status']);
  expect(status.said).toMatch(/applied: 0, pending: \d+/);
  expect(status.code).toBe(0);
});

test('backup and restore go through docker compose exec when no local client will do, and give the rows back', async () => {
  expect(kapman(['migrate', '--quiet']).code).toBe(0);
  await query("INSERT INTO tickers (symbol, name) VALUES ('KAPM', 'before the backup')");
  // The local client made invisible: PG_BIN an empty folder, PATH without pg_dump or pg_restore.
  const bare = fs.mkdtempSync(path.join(copy, 'no-pg-'));
  const hasClient = (d: string) => ['pg_dump', 'pg_restore'].some((t) => fs.existsSync(path.join(d, t)));
  fs.symlinkSync(process.execPath, path.join(bare, 'node'));
  const dockerCli = spawnSync('sh', ['-c', 'command -v docker'], { encoding: 'utf8' }).stdout.trim();
  fs.symlinkSync(dockerCli, path.join(bare, 'docker'));
  const noClient = { PG_BIN: bare, PATH: [bare, ...(process.env.PATH ?? '').split(path.delimiter).filter((d) => d && !hasClient(d))].join(path.delimiter) };
  const file = path.join(copy, 'backups', 'docker.dump');

  const backup = kapman(['backup', '--out', file], noClient);
  expect(backup.said).toMatch(/pg_dump 15\.\d+ in the docker compose service timescaledb \(docker compose exec\)/);
  expect(backup.code).toBe(0);
  await query("INSERT INTO tickers (symbol, name) VALUES ('LATE', 'after the backup')");

  const plan = kapman(['restore', file, '--dry-run'], noClient);
  expect(plan.said).toMatch(/pg_restore 15\.\d+ in the docker compose service timescaledb \(docker compose exec\)/);
  expect(plan.code).toBe(0);
  const restore = kapman(['restore', file], noClient);
  expect(restore.code).toBe(0);
  expect((await query('SELECT symbol FROM tickers ORDER BY symbol')).map((r) => r.symbol)).toEqual(['KAPM']);
});

test('db:down stops the service and keeps the volume; db:up again serves the same data', async () => {
  const down = kapman(['down']);
  expect(down.code).toBe(0);
  expect(down.said).toContain('docker compose service stopped (volume kept)');
  expect(docker(['compose', 'ps', '--status', 'running', '--services'], { cwd: copy, env }).out.trim()).toBe('');
  expect(volumeExists()).toBe(true);
  expect(kapman(['up', '--port', String(port)]).code).toBe(0);
  expect((await query('SELECT symbol FROM tickers')).map((r) => r.symbol)).toEqual(['KAPM']);
});
