// `npm run db:setup`: TimescaleDB when missing (decided by a pure function, tested for each
// branch without running apt), then db:up and db:migrate; twice is harmless.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { dbDown } from '../../scripts/db-down';
import { withClient } from '../../scripts/lib/server/connection';
import { devClusterOptions } from '../../scripts/lib/server/devServer';
import { LocalClusterError, TimescaleMissingError } from '../../scripts/lib/cli/errors';
import { clusterUrl, DEFAULT_PG_BIN, freePort, isRunning, localBinariesProblem } from '../../scripts/lib/server/localCluster';
import { INSTALL_SCRIPT, machineFacts, planProvision, provisionTimescale } from '../../scripts/lib/server/provision';
import { loadSettings } from '../../scripts/lib/server/settings';
import { setup } from '../../scripts/setup';
import { status } from '../../scripts/status';
import { migrationFiles } from '../support/expected';
import { verify } from '../../scripts/lib/schema/verify';
import { settingsOf } from '../support/testDatabase';

const binDir = process.env.PG_BIN || DEFAULT_PG_BIN;

describe('the provisioning decision', () => {
  const missing = { timescaleInstalled: false, isRoot: false, sudoOnPath: false, binDir: DEFAULT_PG_BIN };

  test('installed: nothing to do, whoever runs it', () => {
    expect(planProvision({ ...missing, timescaleInstalled: true, isRoot: true, sudoOnPath: true })).toEqual({ kind: 'installed' });
    expect(planProvision({ ...missing, timescaleInstalled: true })).toEqual({ kind: 'installed' });
  });

  test('missing, as root: runs the install script itself', () => {
    expect(planProvision({ ...missing, isRoot: true, sudoOnPath: true })).toEqual({ kind: 'install', command: 'bash', args: [INSTALL_SCRIPT] });
    // Another PG_BIN travels with the command, since sudo would drop it from the environment.
    expect(planProvision({ ...missing, isRoot: true, binDir: '/opt/pg15/bin' }))
      .toEqual({ kind: 'install', command: 'env', args: ['PG_BIN=/opt/pg15/bin', 'bash', INSTALL_SCRIPT] });
  });

  test('missing, not root, sudo there: runs it through sudo', () => {
    expect(planProvision({ ...missing, sudoOnPath: true })).toEqual({ kind: 'install', command: 'sudo', args: ['bash', INSTALL_SCRIPT] });
    // TIMESCALEDB_SOURCE travels with it too: the community build, not the Apache one sudo's cleared environment would give.
    expect(planProvision({ ...missing, sudoOnPath: true, binDir: '/opt/pg15/bin', source: '/src/timescaledb-2.19.3.tar.xz' })).toEqual({
      kind: 'install', command: 'sudo', args: ['env', 'PG_BIN=/opt/pg15/bin', 'TIMESCALEDB_SOURCE=/src/timescaledb-2.19.3.tar.xz', 'bash', INSTALL_SCRIPT],
    });
  });

  test('missing, not root, no sudo: a named error (exit 8) whose hint is the command to run as root', () => {
    const plan = planProvision(missing);
    if (plan.kind !== 'refuse') throw new Error(`expected a refusal, got ${plan.kind}`);
    expect(plan.error).toBeInstanceOf(TimescaleMissingError);
    expect(plan.error.exitCode).toBe(8);
    expect(plan.error.message).toMatch(/not installed .* needs root/);
    expect(plan.error.hint).toContain(`\`su -c "bash ${INSTALL_SCRIPT}"\``);
    expect(() => provisionTimescale(DEFAULT_PG_BIN, missing)).toThrow(plan.error.message);
  });

  test('no PostgreSQL binaries at all: the install script cannot help, so it names apt-get (exit 12)', () => {
    const none = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-nobin-'));
    try {
      expect(() => machineFacts(none)).toThrow(LocalClusterError);
      expect(() => machineFacts(none)).toThrow(/no PostgreSQL binaries/);
    } finally {
      fs.rmSync(none, { recursive: true, force: true });
    }
  });

  test('this machine: the facts are read, and TimescaleDB counts as installed', () => {
    const facts = machineFacts(binDir);
    expect(facts).toMatchObject({ timescaleInstalled: true, isRoot: process.getuid?.() === 0, binDir });
  });
});

test('setup on a fresh folder makes the cluster, the database and the schema; a second run changes nothing', async () => {
  const problem = localBinariesProblem(binDir);
  if (problem) throw new Error(`${problem}: this test needs PostgreSQL 15 in ${binDir} (or PG_BIN) and TimescaleDB`);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-setup-'));
  fs.chmodSync(root, 0o711);
  const cluster = { dataDir: path.join(root, 'data'), port: await freePort() };
  const dev = devClusterOptions(binDir);
  // Decides as db:setup does, but asserts there is nothing to install instead of ever running apt.
  const provisioned: string[] = [];
  const provision = (dir: string) => {
    provisioned.push(planProvision(machineFacts(dir)).kind);
  };
  try {
    const first = await setup({ docker: false, binDir, cluster, waitMs: 30_000, provision });
    expect(first.url).toBe(clusterUrl({ ...dev, ...cluster }, dev.database));
    expect(fs.existsSync(path.join(cluster.dataDir, 'PG_VERSION'))).toBe(true);
    expect(isRunning(binDir, cluster.dataDir)).toBe(true);
    expect(first.applied).toEqual(migrationFiles());
    const settings = loadSettings({ env: 'development', databaseUrl: first.url });
    const report = await verify(settings, { empty: true });
    expect(report.differences).toEqual([]);
    expect(report.ok).toBe(true);

    const second = await setup({ docker: false, binDir, cluster, waitMs: 30_000, provision });
    expect(second).toEqual({ url: first.url, applied: [] });
    expect((await status(settings)).migrations.every((s) => s.state === 'applied')).toBe(true);
    const databases = await withClient(settingsOf(clusterUrl({ ...dev, ...cluster }, 'postgres')),
      async (c) => (await c.query('SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1')).rows.map((r) => r.datname));
    expect(databases).toEqual([dev.database, 'postgres'].sort());
    expect(provisioned).toEqual(['installed', 'installed']);
  } finally {
    await dbDown({ docker: false, binDir, dataDir: cluster.dataDir }).catch(() => undefined);
    fs.rmSync(root, { recursive: true, force: true });
  }
});
