// What `npm run test:e2e` needs besides a TimescaleDB server: PgBouncer (the pooler group),
// openssl (the SSL group) and Chromium (the report group). Provisioned before the run as `db:setup` provisions TimescaleDB: as
// root, or through sudo; else the run stops at once with the one command to run.
import { execFileSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { planAsRoot, AsRootPlan, onPath } from '../../scripts/lib/server/provision';
import { shellWord } from '../../scripts/lib/cli/log';
import { PGBOUNCER } from './pgbouncer';

export const E2E_TOOLS_SCRIPT = path.join(__dirname, 'install-e2e-tools.sh');

export interface E2eToolFacts {
  /** PgBouncer's binary (PGBOUNCER, else Debian's). */
  pgbouncer: string;
  isRoot: boolean;
  sudoOnPath: boolean;
  openssl: boolean;
  /** Debian's Chromium, which the report's test opens its page in. */
  chromium: boolean;
}

/** The tools missing, by the names the packages give them. */
export function missingTools(f: E2eToolFacts): string[] {
  return [...(fs.existsSync(f.pgbouncer) ? [] : [`pgbouncer (${f.pgbouncer})`]), ...(f.openssl ? [] : ['openssl']), ...(f.chromium ? [] : ['chromium'])];
}

export function e2eToolsPlan(f: E2eToolFacts): { kind: 'installed' } | AsRootPlan {
  return missingTools(f).length ? planAsRoot(['bash', E2E_TOOLS_SCRIPT], f) : { kind: 'installed' };
}

export const machineToolFacts = (): E2eToolFacts => ({
  pgbouncer: PGBOUNCER, isRoot: process.getuid?.() === 0, sudoOnPath: onPath('sudo'), openssl: onPath('openssl'), chromium: fs.existsSync('/usr/bin/chromium'),
});

/** Installs what is missing, when it may; throws, naming the one command to run, when it may not or it did not help. */
export function provisionE2eTools(f: E2eToolFacts = machineToolFacts()): void {
  const missing = missingTools(f);
  const plan = e2eToolsPlan(f);
  if (plan.kind === 'installed') return;
  if (plan.kind === 'refuse') {
    throw new Error(`the end-to-end tests need ${missing.join(' and ')}, and installing it needs root (no sudo here): run \`${plan.asRoot}\`, then npm run test:e2e again`);
  }
  const shown = [plan.command, ...plan.args].map(shellWord).join(' ');
  process.stdout.write(`\nkapman tests: ${missing.join(' and ')} missing: running ${shown}\n`);
  execFileSync(plan.command, plan.args, { stdio: 'inherit' });
  const still = missingTools({ ...f, openssl: onPath('openssl'), chromium: fs.existsSync('/usr/bin/chromium') });
  if (still.length) throw new Error(`${still.join(' and ')} still missing after ${shown}${still.some((t) => t.startsWith('pgbouncer')) ? '; set PGBOUNCER to the binary\'s path' : ''}`);
}
