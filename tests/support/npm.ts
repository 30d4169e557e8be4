// The commands as users start them: through `npm run`, with signals sent to npm (or to
// its whole process group, as Ctrl-C does) at a chosen moment of the output.
import { ChildProcess, execFileSync, spawn } from 'child_process';
import { commandArgs, ROOT } from './cli';
import { alive } from './process';

export interface NpmRun {
  /** npm's process; node runs as its child. */
  npm: ChildProcess;
  /** Resolves once a line of stdout matches. */
  waitFor(line: RegExp): Promise<void>;
  /** npm's exit, and everything printed; resolves after node itself has exited too. */
  done: Promise<{ code: number | null; out: string; err: string }>;
  /** node's pid (npm's child, which `exec` made node itself). */
  nodePid(): number;
}

/** `npm run <script> -- args`, or with `direct`, node running the command's file itself. */
export function startNpm(script: string, args: string[], env: Record<string, string | undefined>, direct?: string): NpmRun {
  const [command, argv] = direct
    ? [process.execPath, commandArgs(direct, args)]
    : ['npm', ['run', '--silent', script, '--', ...args]];
  const npm = spawn(command, argv, {
    cwd: ROOT, detached: true, env: { ...process.env, NODE_ENV: undefined, DATABASE_URL: undefined, KAPMAN_DEBUG: undefined, ...env },
  });
  let out = '';
  let err = '';
  const waiters: Array<{ line: RegExp; resolve: () => void }> = [];
  npm.stdout!.on('data', (d) => {
    out += d;
    for (const w of waiters.splice(0)) (w.line.test(out) ? w.resolve : () => waiters.push(w))();
  });
  npm.stderr!.on('data', (d) => (err += d));
  let child = 0;
  const nodePid = () => {
    if (direct) return (child = npm.pid!);
    if (!child) child = Number(execFileSync('pgrep', ['-P', String(npm.pid)], { encoding: 'utf8' }).trim().split('\n')[0]);
    return child;
  };
  const exited = new Promise<number | null>((resolve) => npm.on('close', (code, signal) => resolve(code ?? (signal ? 128 : null))));
  const done = exited.then(async (code) => {
    // npm may exit before node has finished cleaning up: wait for node too.
    for (let i = 0; child && alive(child) && i < 300; i++) await new Promise((r) => setTimeout(r, 50));
    return { code, out, err };
  });
  return {
    npm,
    waitFor: (line) => new Promise((resolve, reject) => {
      if (line.test(out)) return resolve();
      waiters.push({ line, resolve });
      void exited.then(() => reject(new Error(`npm exited before printing ${line}; output:\n${out}\n${err}`)));
    }),
    done,
    nodePid,
  };
}
