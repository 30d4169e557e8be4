// Slow (npm ci, a cluster of its own and the whole integration suite in a clone): the README's
// two quick-start lines, run as written in a clone inside a folder only its owner may enter
// (as root: the postgres OS user cannot reach it, as in /root or a `mktemp -d` folder).
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { dbDown } from '../../scripts/db-down';
import { devClusterOptions } from '../../scripts/lib/server/devServer';
import { clusterUrl, DEFAULT_PG_BIN, devDataDir, freePort, runningPort, SHARED_DATA_ROOT } from '../../scripts/lib/server/localCluster';
import { withClient } from '../../scripts/lib/server/connection';
import { ROOT } from '../support/cli';
import { commandLines, README_TEXT, section } from '../support/readme';
import { settingsOf } from '../support/testDatabase';

const binDir = process.env.PG_BIN || DEFAULT_PG_BIN;
// Its work: npm ci (15 s quiet, 40 s at a load of 11), a cluster of its own and the whole
// integration suite in the clone (20 s quiet, about a minute loaded): 110 s at a load of 11
// here, so 15 minutes holds it on a machine twice as loaded and on a slow disk.
const QUICK_START_LIMIT_MS = 900_000;
const readme = README_TEXT();
const quickStart = commandLines(section(readme, 'Quick start'));

/** A clone of this checkout's files as they stand (what `git ls-files` lists), without node_modules. */
function cloneInto(dir: string): void {
  const files = spawnSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).stdout.split('\0').filter(Boolean);
  for (const f of files) {
    if (!fs.existsSync(path.join(ROOT, f))) continue; // deleted, not yet committed
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
  }
}

/** The environment of a user's shell: none of this run's npm, jest or test-server variables. */
function userEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_|JEST_|KAPMAN_|TEST_DATABASE_URL$|DATABASE_URL$|NODE_ENV$|INIT_CWD$)/.test(k)) continue;
    env[k] = v;
  }
  // No Docker engine may answer (others share this machine); the cache serves npm ci.
  return { ...env, DOCKER_HOST: 'unix:///nonexistent/docker.sock', npm_config_prefer_offline: 'true', ...extra };
}

test('as root, a clone in a folder the postgres OS user cannot enter passes both quick-start lines; its cluster is found again', async () => {
  if (process.getuid?.() !== 0) throw new Error('this test checks what root meets; run the end-to-end suite as root');
  expect(quickStart).toHaveLength(2);
  const madeShared = !fs.existsSync(SHARED_DATA_ROOT);
  const owner = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-home-'));
  expect(fs.statSync(owner).mode & 0o777).toBe(0o700);
  const clone = path.join(owner, 'kapman-db');
  const dataDir = devDataDir(clone);
  const port = await freePort();
  const env = userEnv({ KAPMAN_DB_PORT: String(port) });
  const sh = (line: string) => {
    const r = spawnSync('bash', ['-c', line], { cwd: clone, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
  };
  try {
    cloneInto(clone);
    // Where the data goes: outside the clone, in a folder of this checkout's own.
    expect(dataDir.startsWith(`${SHARED_DATA_ROOT}/`)).toBe(true);
    expect(devDataDir(path.join(owner, 'another-clone'))).not.toBe(dataDir);
    expect(fs.existsSync(dataDir)).toBe(false);

    const setup = sh(quickStart[0]);
    expect({ code: setup.code, out: setup.out }).toEqual({ code: 0, out: expect.stringContaining(`local cluster created in ${dataDir}`) });
    expect(fs.existsSync(path.join(clone, '.pgdata'))).toBe(false);
    // npm ci runs no install script and asks about none (package.json's allowScripts).
    expect(setup.out).not.toMatch(/allowScripts|install-scripts/);
    expect(runningPort(dataDir)).toBe(port);

    const tests = sh(quickStart[1]);
    expect({ code: tests.code, tail: tests.out.slice(-3000) }).toEqual({ code: 0, tail: expect.stringMatching(/Tests: +\d+ passed, \d+ total/) });

    // db:down, db:up, db:setup and db:reset find the same cluster again.
    const down = sh('npm run db:down');
    expect({ code: down.code, out: down.out }).toEqual({ code: 0, out: expect.stringContaining(`(data kept in ${dataDir})`) });
    expect(runningPort(dataDir)).toBeUndefined();
    const up = sh('npm run db:up');
    expect({ code: up.code, out: up.out }).toEqual({ code: 0, out: expect.stringContaining(`local cluster exists in ${dataDir}`) });
    const again = sh('npm run db:setup');
    expect({ code: again.code, out: again.out }).toEqual({ code: 0, out: expect.stringContaining(`local cluster exists in ${dataDir}`) });
    const dev = devClusterOptions(binDir);
    const url = clusterUrl({ ...dev, port }, dev.database);
    await withClient(settingsOf(url), (c) => c.query('INSERT INTO tickers (symbol) VALUES ($1)', ['KEPT?']));
    const reset = spawnSync('bash', ['-c', 'npm run db:reset'], { cwd: clone, env: { ...env, DATABASE_URL: url }, encoding: 'utf8' });
    expect({ code: reset.status, err: reset.stderr }).toEqual({ code: 0, err: expect.any(String) });
    expect(await withClient(settingsOf(url), async (c) => (await c.query('SELECT count(*)::int AS n FROM tickers')).rows[0].n)).toBe(0);
  } finally {
    await dbDown({ docker: false, binDir, dataDir }).catch(() => undefined);
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(owner, { recursive: true, force: true });
    // The shared folder too, when this test made it and nothing else lives there.
    if (madeShared) {
      try {
        fs.rmdirSync(SHARED_DATA_ROOT);
      } catch {
        // another checkout's cluster has moved in meanwhile: it stays
      }
    }
  }
  expect(runningPort(dataDir)).toBeUndefined();
}, QUICK_START_LIMIT_MS);
