// In tests/e2e (npm run test:e2e): a jest run of its own, in a copy of the project, on a throwaway cluster of its own.
// A global setup that fails once its throwaway cluster runs (the migrations cannot build the
// template) stops that cluster and removes its folder: jest runs no teardown after a failed setup.
import { execFileSync, spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { DEFAULT_PG_BIN, stopCluster } from '../../scripts/lib/server/localCluster';
import { copyProject, removeProject } from '../support/projectCopy';

let copy = '';
let tmp = '';
afterAll(async () => {
  // What a run that did not clean up left (so a failure here leaves nothing either).
  for (const dir of tmp && fs.existsSync(tmp) ? fs.readdirSync(tmp) : []) {
    const data = path.join(tmp, dir, 'data');
    if (fs.existsSync(path.join(data, 'postmaster.pid'))) stopCluster(process.env.PG_BIN || DEFAULT_PG_BIN, data);
  }
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  if (copy) await removeProject(copy);
});

/** The command lines of the running postgres processes that name `folder`. */
const postgresUnder = (folder: string) => execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n')
  .filter((line) => /postgres/.test(line) && line.includes(folder));

test('a global setup whose template build fails stops the cluster it started and removes its folder', () => {
  copy = copyProject('setupfails', { withTests: true });
  fs.writeFileSync(path.join(copy, 'db', 'migrations', '0099_fails.ts'),
    "export async function up(knex: any) { await knex.raw('SELECT no_such_function()'); }\nexport async function down() {}\n");
  // The run's temporary folder, where its cluster's folder goes (os.tmpdir() reads TMPDIR); the
  // server runs as the postgres OS user when we are root, so it must be able to reach it.
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-setup-tmp-'));
  fs.chmodSync(tmp, 0o755);
  const r = spawnSync(process.execPath, [path.join(copy, 'node_modules', 'jest', 'bin', 'jest.js'), 'tests/integration/harness.test.ts'], {
    cwd: copy, encoding: 'utf8',
    env: {
      ...process.env, TMPDIR: tmp, TEST_DATABASE_URL: undefined, KAPMAN_TEST_SERVER_URL: undefined, KAPMAN_TEST_TEMPLATE: undefined, KAPMAN_TEST_RUN: undefined,
      // No Docker engine answers: the harness starts a local cluster.
      DOCKER_HOST: 'unix:///nonexistent/kapman-setup-failure.sock',
    },
  });
  const output = `${r.stdout}${r.stderr}`;
  expect({ code: r.status, started: /using local cluster/.test(output), failed: /0099_fails\.ts/.test(output) })
    .toEqual({ code: 1, started: true, failed: true });
  expect(fs.readdirSync(tmp).filter((f) => f.startsWith('kapman-test-cluster-'))).toEqual([]);
  expect(postgresUnder(tmp)).toEqual([]);
});
