// In tests/e2e (npm processes; what `npm run test:e2e` provisions before its groups run,
// PgBouncer, openssl and Chromium): decided by a pure function, each branch tested without running apt.
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import e2eConfig from '../../jest.e2e.config';
import { E2E_TOOLS_SCRIPT, e2eToolsPlan, machineToolFacts, missingTools, provisionE2eTools } from '../support/e2eTools';
import { ROOT } from '../support/cli';

// PGBOUNCER names a binary that is not there: the tool counts as not installed.
const missing = { pgbouncer: '/nonexistent/pgbouncer', isRoot: false, sudoOnPath: false, openssl: true, chromium: true };

test('npm run test:e2e provisions through its global setup', () => {
  expect(path.resolve(String(e2eConfig.globalSetup).replace('<rootDir>', ROOT))).toBe(path.join(ROOT, 'tests', 'support', 'e2eGlobalSetup.ts'));
});

test('PgBouncer missing, not root, no sudo: the run stops at once with the one command to run as root', () => {
  expect(missingTools(missing)).toEqual(['pgbouncer (/nonexistent/pgbouncer)']);
  expect(() => provisionE2eTools(missing)).toThrow(`the end-to-end tests need pgbouncer (/nonexistent/pgbouncer), and installing it needs root (no sudo here): run \`su -c "bash ${E2E_TOOLS_SCRIPT}"\`, then npm run test:e2e again`);
  expect(() => provisionE2eTools({ ...missing, pgbouncer: process.execPath, openssl: false })).toThrow(/need openssl, and installing it needs root/);
});

test('missing as root: the script runs itself; with sudo: through sudo', () => {
  expect(e2eToolsPlan({ ...missing, isRoot: true, sudoOnPath: true })).toEqual({ kind: 'install', command: 'bash', args: [E2E_TOOLS_SCRIPT] });
  expect(e2eToolsPlan({ ...missing, sudoOnPath: true })).toEqual({ kind: 'install', command: 'sudo', args: ['bash', E2E_TOOLS_SCRIPT] });
});

test('this machine, where the run got this far: nothing is missing', () => {
  expect(missingTools(machineToolFacts())).toEqual([]);
  expect(e2eToolsPlan(machineToolFacts())).toEqual({ kind: 'installed' });
});

test('npm ci runs no dependency\'s install script and has none left to ask about; each of those packages loads without it', () => {
  const ls = spawnSync('npm', ['install-scripts', 'ls'], { cwd: ROOT, encoding: 'utf8' });
  expect({ code: ls.status, out: ls.stdout.trim() }).toEqual({ code: 0, out: 'No packages with unreviewed install scripts.' });
  const denied = Object.entries(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).allowScripts as Record<string, boolean>);
  expect(denied.filter(([, allowed]) => allowed)).toEqual([]);
  // cpu-features is a native add-on that ssh2 (the Docker client's) tries and does without:
  // unbuilt, it does not load itself, and what the project loads is ssh2.
  const loaded = (name: string) => (name === 'cpu-features' ? 'ssh2' : name);
  for (const [name] of denied) expect(`${loaded(name)}: ${typeof require(loaded(name))}`).toMatch(new RegExp(`^${loaded(name)}: (object|function)$`));
});
