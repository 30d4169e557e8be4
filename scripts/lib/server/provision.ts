// TimescaleDB for the local PostgreSQL, when `db:setup` finds it missing on the no-Docker
// path. scripts/install-timescaledb.sh needs root: it runs as root, through sudo, or not
// at all, and then the error names the one command to run.
import { execFileSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { PROJECT_ROOT } from '../paths';
import { TimescaleMissingError } from '../cli/errors';
import { assertLocalBinaries, DEFAULT_PG_BIN, localBinariesProblem } from './localCluster';
import { log, shellWord } from '../cli/log';

export const INSTALL_SCRIPT = path.join(PROJECT_ROOT, 'scripts', 'install-timescaledb.sh');

/** What the decision depends on; gathered by machineFacts(), given directly by tests. */
export interface ProvisionFacts {
  timescaleInstalled: boolean;
  isRoot: boolean;
  sudoOnPath: boolean;
  /** Folder of the local PostgreSQL 15 binaries (PG_BIN). */
  binDir: string;
  /** TIMESCALEDB_SOURCE: a TimescaleDB source tarball or folder the script builds the community build from. */
  source?: string;
}

export type ProvisionPlan =
  | { kind: 'installed' }
  | { kind: 'install'; command: string; args: string[] }
  | { kind: 'refuse'; error: TimescaleMissingError };

/** How a command that needs root runs: as it is (root), through sudo, or not here: then the line to run as root. */
export type AsRootPlan = { kind: 'install'; command: string; args: string[] } | { kind: 'refuse'; asRoot: string };

export function planAsRoot(argv: string[], f: Pick<ProvisionFacts, 'isRoot' | 'sudoOnPath'>): AsRootPlan {
  if (f.isRoot) return { kind: 'install', command: argv[0], args: argv.slice(1) };
  if (f.sudoOnPath) return { kind: 'install', command: 'sudo', args: argv };
  return { kind: 'refuse', asRoot: `su -c "${argv.map(shellWord).join(' ')}"` };
}

export function planProvision(f: ProvisionFacts): ProvisionPlan {
  if (f.timescaleInstalled) return { kind: 'installed' };
  // sudo resets the environment, so a PG_BIN other than the script's default, and a source, are passed on the command line.
  const vars = [...(f.binDir === DEFAULT_PG_BIN ? [] : [`PG_BIN=${f.binDir}`]), ...(f.source ? [`TIMESCALEDB_SOURCE=${f.source}`] : [])];
  const plan = planAsRoot([...(vars.length ? ['env', ...vars] : []), 'bash', INSTALL_SCRIPT], f);
  if (plan.kind === 'install') return plan;
  return {
    kind: 'refuse',
    error: new TimescaleMissingError(`TimescaleDB is not installed for the PostgreSQL in ${f.binDir}, and installing it needs root (no sudo here)`,
      `run \`${plan.asRoot}\` (root's password), then \`npm run db:setup\` again; or use Docker (docker-compose.yml)`),
  };
}

export function onPath(program: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      fs.accessSync(path.join(dir, program), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The facts of this machine; refuses first when PostgreSQL 15 itself is missing (apt, not this script, installs it). */
export function machineFacts(binDir: string, source?: string): ProvisionFacts {
  if (!fs.existsSync(path.join(binDir, 'initdb'))) assertLocalBinaries(binDir);
  return { timescaleInstalled: !localBinariesProblem(binDir), isRoot: process.getuid?.() === 0, sudoOnPath: onPath('sudo'), binDir, source };
}

/** Installs TimescaleDB when the plan says so (the community build, with the facts' source); throws the plan's error when it refuses. */
export function provisionTimescale(binDir: string, facts: ProvisionFacts = machineFacts(binDir)): void {
  const plan = planProvision(facts);
  if (plan.kind === 'installed') return log(`TimescaleDB is installed for the PostgreSQL in ${binDir}`);
  if (plan.kind === 'refuse') throw plan.error;
  const shown = [plan.command, ...plan.args].map(shellWord).join(' ');
  log(`TimescaleDB is missing for the PostgreSQL in ${binDir}: running ${shown}`);
  try {
    execFileSync(plan.command, plan.args, { stdio: 'inherit' });
  } catch (err) {
    throw new TimescaleMissingError(`${shown} failed: ${(err as Error).message}`,
      `see its output above; once it succeeds, run \`npm run db:setup\` again`);
  }
  const problem = localBinariesProblem(binDir);
  if (problem) throw new TimescaleMissingError(`${problem}, even after ${shown}`, 'see the install script\'s output above');
  log('TimescaleDB installed');
}
