// Running the commands as a user would, in a child process: exit code, stdout, stderr.
import { spawn, spawnSync } from 'child_process';
import path from 'path';

export const ROOT = path.resolve(__dirname, '..', '..');

export interface CliResult {
  code: number | null;
  out: string;
  err: string;
}

type Env = Record<string, string | undefined>;

const childEnv = (env: Env) => ({ ...process.env, NODE_ENV: undefined, DATABASE_URL: undefined, KAPMAN_DEBUG: undefined, ...env });
// A command by its file's name (`db-up`) or its own (`up`): `kapman-db <command> …args`.
const COMMAND_OF_FILE: Record<string, string> = { 'db-up': 'up', 'db-down': 'down', 'schema-dump': 'schema:dump' };
export const commandArgs = (name: string, args: string[]) => [path.join('scripts', 'kapman-db.js'), COMMAND_OF_FILE[name] ?? name, ...args];
const scriptArgs = commandArgs;
const knexArgs = (args: string[]) => [path.join('node_modules', 'knex', 'bin', 'cli.js'), ...args];

function run(args: string[], env: Env): CliResult {
  const result = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', env: childEnv(env) });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

/** The same, without blocking: for runs that must overlap. */
function start(args: string[], env: Env): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: childEnv(env) });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

/** `kapman-db <name> …args`, as the npm scripts run it. */
export const runScript = (name: string, args: string[], env: Env = {}) => run(scriptArgs(name, args), env);
export const startScript = (name: string, args: string[], env: Env = {}) => start(scriptArgs(name, args), env);

/** The knex CLI, as `npx knex …` runs it. */
export const runKnex = (args: string[], env: Env = {}) => run(knexArgs(args), env);
export const startKnex = (args: string[], env: Env = {}) => start(knexArgs(args), env);
