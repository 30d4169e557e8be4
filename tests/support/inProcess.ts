// A command run as the program would run it (runCli: yargs, .env, one error line and hint,
// the exit code), but inside the test's process: what `node scripts/<name>.ts` costs in
// start-up (0.5–2 s a run on a loaded machine) buys nothing when the process boundary is not
// what a test checks. Same result shape as support/cli.ts; tests/e2e keeps real processes.
// Runs one at a time per worker (process.argv, env and output are the worker's own).
import path from 'path';
import type { runCli as RunCli } from '../../scripts/lib/cli/cli';
import type { setQuiet as SetQuiet } from '../../scripts/lib/cli/log';
import { CliResult, ROOT } from './cli';

type Env = Record<string, string | undefined>;

/** What stops the command where its program would have ended (thrown from process.exit). */
class Exited extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

// The npm script each command file runs as (its runCli's scriptName).
const SCRIPT_NAMES: Record<string, string> = { 'schema-dump': 'db:schema:dump', 'db-up': 'db:up', 'db-down': 'db:down', bench: 'bench' };

let running: Promise<unknown> = Promise.resolve();

/** `scripts/<name>.ts …args` with `env` over the test process's environment (NODE_ENV, DATABASE_URL, KAPMAN_DEBUG unset first, as for a child). */
export function runInProcess(name: string, args: string[], env: Env = {}): Promise<CliResult> {
  const run = running.then(() => runOnce(name, args, env));
  running = run.catch(() => undefined);
  return run;
}

async function runOnce(name: string, args: string[], env: Env): Promise<CliResult> {
  // The command and the CLI layer from the same module registry (a test may have reset it), so
  // that the layer knows the command's error classes. Required here, as node would load them.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { command } = require(path.join(ROOT, 'scripts', name));
  const { runCli } = require(path.join(ROOT, 'scripts', 'lib', 'cli', 'cli')) as { runCli: typeof RunCli };
  const { setQuiet } = require(path.join(ROOT, 'scripts', 'lib', 'cli', 'log')) as { setQuiet: typeof SetQuiet };
  /* eslint-enable @typescript-eslint/no-require-imports */
  const saved = { argv: process.argv, env: { ...process.env }, exitCode: process.exitCode, cwd: process.cwd() };
  let out = '';
  let err = '';
  let code: number | undefined;
  let finished!: () => void;
  const exited = new Promise<void>((resolve) => (finished = resolve));
  const spies = [
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((code === undefined && (out += String(chunk))), true)),
    jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((code === undefined && (err += String(chunk))), true)),
    // The first exit ends the run; what runCli does after it (a process would be gone) is muted, output too.
    jest.spyOn(process, 'exit').mockImplementation(((c?: number) => {
      if (code !== undefined) return undefined as never;
      code = c ?? 0;
      finished();
      throw new Exited(code);
    }) as typeof process.exit),
  ];
  try {
    for (const k of ['NODE_ENV', 'DATABASE_URL', 'KAPMAN_DEBUG']) delete process.env[k];
    for (const [k, v] of Object.entries(env)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    process.argv = [process.execPath, path.join(ROOT, 'scripts', `${name}.ts`), ...args];
    process.exitCode = undefined;
    process.chdir(ROOT);
    setQuiet(false);
    try {
      runCli(command, `npm run ${SCRIPT_NAMES[name] ?? `db:${name}`} --`);
    } catch (e) {
      if (!(e instanceof Exited)) throw e;
    }
    await exited;
    // Let runCli's promise chain settle while exit is still muted.
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    return { code: code ?? null, out, err };
  } finally {
    setQuiet(true);
    for (const s of spies) s.mockRestore();
    process.argv = saved.argv;
    for (const k of Object.keys(process.env)) if (!(k in saved.env)) delete process.env[k];
    Object.assign(process.env, saved.env);
    process.exitCode = saved.exitCode;
    process.chdir(saved.cwd);
  }
}
