// A command run as the program runs it (runProgram: yargs, .env, one error line and hint, the
// exit code), but inside the test's process: what a node process costs in start-up (0.5–2 s a
// run on a loaded machine) buys nothing when the process boundary is not what a test checks.
// Same result shape as support/cli.ts; tests/e2e keeps real processes.
// Runs one at a time per worker (process.env and the output streams are the worker's own).
import path from 'path';
import type { runProgram as RunProgram } from '../../scripts/commands';
import type { setQuiet as SetQuiet } from '../../scripts/lib/cli/log';
import { CliResult, commandArgs, ROOT } from './cli';

type Env = Record<string, string | undefined>;

let running: Promise<unknown> = Promise.resolve();

/**
 * `kapman-db <name> …args` (name as for runScript) with `env` over the test process's environment (NODE_ENV, DATABASE_URL, KAPMAN_DEBUG unset first, as for a child);
 * `root`: the program of another checkout (a project copy, tests/support/projectCopy.ts), as run there.
 */
export function runInProcess(name: string, args: string[], env: Env = {}, root = ROOT): Promise<CliResult> {
  const run = running.then(() => runOnce(name, args, env, root));
  running = run.catch(() => undefined);
  return run;
}

async function runOnce(name: string, args: string[], env: Env, root: string): Promise<CliResult> {
  // The program from the test's module registry (a test may have reset it), so that the
  // layer knows the same error classes as the commands it loads.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { runProgram } = require(path.join(root, 'scripts', 'commands')) as { runProgram: typeof RunProgram };
  const { setQuiet } = require(path.join(root, 'scripts', 'lib', 'cli', 'log')) as { setQuiet: typeof SetQuiet };
  /* eslint-enable @typescript-eslint/no-require-imports */
  const saved = { env: { ...process.env }, cwd: process.cwd() };
  let out = '';
  let err = '';
  const spies = [
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((out += String(chunk)), true)),
    jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((err += String(chunk)), true)),
  ];
  try {
    for (const k of ['NODE_ENV', 'DATABASE_URL', 'KAPMAN_DEBUG']) delete process.env[k];
    for (const [k, v] of Object.entries(env)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    process.chdir(root);
    setQuiet(false);
    const [, ...argv] = commandArgs(name, args); // the command and its arguments, without the program's file
    const code = await runProgram(argv, process.env);
    return { code, out, err };
  } finally {
    setQuiet(true);
    for (const s of spies) s.mockRestore();
    for (const k of Object.keys(process.env)) if (!(k in saved.env)) delete process.env[k];
    Object.assign(process.env, saved.env);
    process.chdir(saved.cwd);
  }
}
