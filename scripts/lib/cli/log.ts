// One place for output: every line is prefixed with the tool's name, and every
// line (and error) passes through redact(), so no password is ever printed.

export const MASK = '*****';

// Masking is structural: a password is hidden where it stands as a password (a URL's user info,
// a password= parameter), never by searching for its text, which cut every word holding it
// (with the password `e`, "resetting" came out as "r*****s*****tting").

// A URL (any scheme: libpq's and pg_dump's messages quote postgres:// URLs whole, in quotes or not),
// or a key/value parameter whose key ends in "password" (conninfo, PGPASSWORD=, sslpassword=),
// or the same key in an inspected object or JSON (`password: '…'`, `"password":"…"`).
const SECRETS = new RegExp([
  /(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*:\/\/)(\S*)/.source, // from a word's start: no rescan of every suffix
  // conninfo: a 'quoted' value with \' escapes (an unclosed quote runs to the end), else up to whitespace
  /(?<!\w)(\w*password\s*=\s*)('(?:[^'\\]|\\[\s\S])*'?|\S*)/.source,
  /(?<!\w)(\w*password["']?\s*:\s*)('(?:[^'\\]|\\[\s\S])*'?|"(?:[^"\\]|\\[\s\S])*"?)/.source,
].join('|'), 'gi');

// libpq's messages that quote one piece of a connection string bare, which may be the password:
// a percent-encoded value it cannot decode, and the text before a missing "=" in a conninfo.
const LIBPQ_PIECES = /(invalid percent-encoded token: "|forbidden value %00 in percent-encoded value: "|missing "=" after ")[^"]*(")/g;

const CLOSING: Record<string, string> = { '"': '"', "'": "'", '(': ')', '<': '>', '[': ']' };

/** A key of a URL's query, decoded when it can be (libpq decodes keys too: pass%77ord=). */
function queryKey(key: string): string {
  try {
    return decodeURIComponent(key);
  } catch {
    return key;
  }
}

/**
 * One URL with its password masked: the user info from its first ":" to the last "@" (so a raw
 * "@", ":" or "/" in the password is covered, as libpq would misread it anyway), and every query
 * parameter whose key ends in "password", up to its "&".
 */
function maskUrlText(url: string): string {
  const colon = url.indexOf(':');
  const lastAt = url.lastIndexOf('@');
  // A ":" after the first "@" is the port's: then the user info holds no password.
  let queryFrom = 0;
  if (colon >= 0 && colon < url.indexOf('@')) {
    url = `${url.slice(0, colon + 1)}${MASK}${url.slice(lastAt)}`;
    queryFrom = colon + 1 + MASK.length;
  }
  const q = url.indexOf('?', queryFrom);
  if (q < 0) return url;
  const query = url.slice(q + 1).split('&').map((pair) => {
    const eq = pair.indexOf('=');
    return eq >= 0 && /password$/i.test(queryKey(pair.slice(0, eq))) ? `${pair.slice(0, eq + 1)}${MASK}` : pair;
  });
  return `${url.slice(0, q + 1)}${query.join('&')}`;
}

/** `text` with every password masked where it stands as one; the rest is left exactly as it was. */
export function redact(text: string): string {
  return text.replace(LIBPQ_PIECES, `$1${MASK}$2`).replace(SECRETS, (match: string, scheme?: string, rest?: string, key?: string, value?: string, jsonKey?: string, jsonValue?: string, ...more: unknown[]) => {
    if (scheme !== undefined) {
      // A URL quoted in a message keeps its closing quote: "postgres://…".
      const offset = more[more.length - 2] as number;
      const opener = (more[more.length - 1] as string)[offset - 1];
      const closer = CLOSING[opener];
      const body = closer && rest!.endsWith(closer) ? rest!.slice(0, -1) : rest!;
      return `${scheme}${maskUrlText(body)}${rest!.slice(body.length)}`;
    }
    if (key !== undefined) return value ? `${key}${MASK}` : match;
    return `${jsonKey}${MASK}`;
  });
}

let quiet = false;
// The CLI's --quiet and --json: with --quiet only the outcome line (and an error) is printed;
// with --json, stdout holds only the result.
let outcomeOnly = false;
let toStderr = false;

// A reader that goes away (`| head -1`) must not abort the work: output errors are dropped from then on.
// Once per process: a test runner loads this module again for every test file.
function ignoreClosedReader(): void {}
for (const stream of [process.stdout, process.stderr]) {
  if (!stream.listeners('error').some((l) => l.name === ignoreClosedReader.name)) stream.on('error', ignoreClosedReader);
}

/** Mutes log() (tests call the commands' functions and want only jest's output). */
export function setQuiet(on: boolean): void {
  quiet = on;
}

export function log(message: string): void {
  if (!outcomeOnly) outcome(message);
}

/** The one line that says how a command ended: all that --quiet prints. */
export function outcome(message: string): void {
  if (!quiet) (toStderr ? process.stderr : process.stdout).write(`kapman: ${redact(message)}\n`);
}

/** Lines meant to be copied (SQL, a contract entry): as log() places them, without the prefix. */
export function plain(text: string): void {
  if (!quiet) (toStderr ? process.stderr : process.stdout).write(`${redact(text)}\n`);
}

/** Progress on one line, to stderr (dots while waiting). */
export function progress(text: string): void {
  if (!quiet && !outcomeOnly) process.stderr.write(redact(text));
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
  if (!quiet && !outcomeOnly) process.stderr.write(`kapman: ${redact(message)}\n`);
}

export function setOutput(o: { quiet: boolean; toStderr: boolean }): void {
  outcomeOnly = o.quiet;
  toStderr = o.toStderr;
}

/** A line per item (a migration file, a table, a chunk); --quiet leaves it out, as every line but the outcome. */
export function detail(message: string): void {
  log(message);
}

/** A word as a POSIX shell reads it back: bare when safe, else in single quotes. */
export const shellWord = (w: string) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);

/** `1 row`, `2 rows`. */
export const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
