// Ctrl-C and SIGTERM: before a destructive step, stop promptly and undo what was built;
// during one (the swap, milliseconds), finish it first. The exit code then says which:
// 130/143 means nothing was changed, 0 means the work was done.
import { log } from './log';

export const EXIT_CODES: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

type Cleanup = () => Promise<void>;
const cleanups = new Set<Cleanup>();
let critical = 0;
let pending: NodeJS.Signals | undefined;
let installed = false;
let stopping = false;

/** Registers what to undo when a signal arrives outside a critical section; returns its removal. */
export function onInterrupt(cleanup: Cleanup): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/** Runs `work` with signals held back until it is done; a held signal is reported, not acted on. */
export async function uninterruptible<T>(work: () => Promise<T>): Promise<T> {
  critical++;
  try {
    return await work();
  } finally {
    critical--;
    if (critical === 0 && pending) log(`${pending} arrived during the swap; the swap was finished, not interrupted`);
  }
}

/** The signal received, if any (work between steps checks it); a parent gone counts as SIGTERM. */
export function interrupted(): NodeJS.Signals | undefined {
  // Asked at once, not left to the next poll: a step may end well within the poll's 200 ms.
  if (!pending && parentGone()) onSignal('SIGTERM');
  return pending;
}

/** True while the cleanups run on the way out: what fails meanwhile is their doing, not news. */
export function isStopping(): boolean {
  return stopping;
}

async function stop(signal: NodeJS.Signals): Promise<void> {
  stopping = true;
  for (const cleanup of [...cleanups].reverse()) {
    await cleanup().catch(() => undefined);
  }
  process.exit(EXIT_CODES[signal]);
}

function onSignal(signal: NodeJS.Signals): void {
  if (pending) return; // a second signal changes nothing: the first is being handled
  pending = signal;
  if (critical > 0) return; // finished by uninterruptible()'s caller; exit code follows the outcome
  void stop(signal);
}

// `npx kapman-db` runs node under npm exec and a shell, which pass on no signal sent to npx's
// pid alone: npx exits 130/143 and node is left to its own. The parent gone is taken as SIGTERM.
let parent: number | undefined;
const parentGone = () => parent !== undefined && process.ppid !== parent;

/** Installs the handlers once per process (the CLI layer does it for every command). */
export function handleSignals(): void {
  if (installed) return;
  installed = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => onSignal(signal));
  parent = process.ppid;
  setInterval(() => {
    if (parentGone()) onSignal('SIGTERM');
  }, 200).unref();
}
