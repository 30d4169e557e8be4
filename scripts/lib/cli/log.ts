// One place for output: every line is prefixed with the tool's name, and every
// line (and error) passes through redact(), so no password is ever printed.

const secrets = new Set<string>();

/** Remember a secret (a password) so that no output ever shows it. */
export function addSecret(secret: string | undefined): void {
  if (secret && secret.length > 0) secrets.add(secret);
}

// user:password@ in any postgres URL, greedy up to the last @ so a raw @ in a password is covered.
const URL_PASSWORD = /(postgres(?:ql)?:\/\/[^:/@\s]*:)\S*@/gi;
// password=... in a libpq key/value string.
const KEYWORD_PASSWORD = /(password\s*=\s*)('[^']*'|\S+)/gi;

export function redact(text: string): string {
  let out = text.replace(URL_PASSWORD, '$1*****@').replace(KEYWORD_PASSWORD, '$1*****');
  for (const s of secrets) out = out.split(s).join('*****');
  return out;
}

let quiet = false;

// A reader that goes away (`| head -1`) must not abort the work: output errors are dropped from then on.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);

/** Mutes log() (tests call the commands' functions and want only jest's output). */
export function setQuiet(on: boolean): void {
  quiet = on;
}

export function log(message: string): void {
  if (!quiet) (toStderr ? process.stderr : process.stdout).write(`kapman: ${redact(message)}\n`);
}

/** Progress on one line, to stderr (dots while waiting). */
export function progress(text: string): void {
  if (!quiet) process.stderr.write(redact(text));
}

/** Runs one step, printing the fact done and its duration. */
export async function step<T>(done: string | ((result: T) => string), work: () => Promise<T>): Promise<T> {
  const started = process.hrtime.bigint();
  const result = await work();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const text = typeof done === 'function' ? done(result) : done;
  log(`${text} (${ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`})`);
  return result;
}

/** A line about the run itself, to stderr (which .env file was read), so stdout stays the command's. */
export function notice(message: string): void {
  if (!quiet) process.stderr.write(`kapman: ${redact(message)}\n`);
}

// The CLI's --quiet and --json: details muted; with --json, stdout holds only the result.
let details = true;
let toStderr = false;

export function setOutput(o: { quiet: boolean; toStderr: boolean }): void {
  details = !o.quiet;
  toStderr = o.toStderr;
}

/** A line per item (a migration file, a table, a chunk): --quiet leaves it out. */
export function detail(message: string): void {
  if (details) log(message);
}

/** `1 row`, `2 rows`. */
export const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
