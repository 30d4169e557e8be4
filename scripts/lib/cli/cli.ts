// The one CLI layer: `kapman-db <command>` and every `npm run db:*` script run through it. It
// defines the shared options once, validates them, refuses flags npm swallowed, prints a --json
// result, and prints any error once, with its exit code. The commands, and how a command's
// target is read, come from the entry (scripts/commands.ts): this layer loads neither itself.
import fs from 'fs';
import path from 'path';
import yargs, { Argv, Options } from 'yargs';
import { hideBin, Parser } from 'yargs/helpers';
import { PROJECT_ROOT } from '../paths';
import { loadDotEnv } from './dotenv';
import { KapmanError, ProductionGuardError, UsageError } from './errors';
import { handleSignals } from './interrupt';
import { outcome, redact, setOutput, shellWord } from './log';
import { DEFAULT_LOCK_TIMEOUT_MS } from './timeouts';

const PROGRAM = 'kapman-db';

/**
 * The program as the user started it, for usage lines and hints that give a line to run:
 * `node scripts/kapman-db.js` when node ran the file by its path, else the bin's name (a bin
 * link, npx).
 */
export function programAsTyped(script: string | undefined, cwd: string): string {
  if (!script || path.basename(script) !== 'kapman-db.js') return PROGRAM;
  const relative = path.relative(cwd, script);
  return `node ${relative.startsWith('..') || path.isAbsolute(relative) ? script : relative}`;
}

/** What every command accepts. */
export interface GlobalArgs {
  'env-file'?: string;
  quiet: boolean;
  debug: boolean;
}

/** What every command that talks to the target database accepts, besides GlobalArgs. */
export interface DatabaseArgs extends GlobalArgs {
  env?: string;
  wait: boolean;
  'wait-timeout': number;
  'lock-timeout': number;
  json: boolean;
}

/**
 * A command: its own options and the function that does the work. With `database`, it gets
 * the shared database options and the target's settings `S`, as the entry's Program.target
 * reads them (this layer only hands them on); what `run` returns is the result `--json` prints.
 */
export type CommandSpec<S, A = object, R = unknown> =
  | {
    database: true; options?: (y: Argv) => Argv; run(args: A & DatabaseArgs, settings: S): Promise<R>;
    /** The one line --quiet prints when the command succeeds. */
    outcome?(result: R, settings: S): string;
  }
  | { database: false; shared?: SharedOption[]; options?: (y: Argv) => Argv; run(args: A & GlobalArgs): Promise<R>; outcome?(result: R): string };

/** One command of the registry (scripts/commands.ts), with its one-line description. */
export interface CommandEntry {
  /** `kapman-db <name>`; the npm script is `db:<name>` (`bench` is `bench`). */
  name: string;
  /** Positionals after the name, in yargs' syntax: `<file>`, `<name..>`. */
  positionals?: string;
  /** What the positionals are, in words and as a placeholder, for the error when they are missing. */
  needs?: string;
  placeholder?: string;
  describe: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each command has its own arguments and result
  load(): CommandSpec<any, any>;
}

/** The npm script that runs a command: `db:reset`, and `bench` for the benchmark. */
export const npmScript = (name: string) => (name === 'bench' ? 'bench' : `db:${name}`);

/** What the entry hands this layer: the commands, and how a database command's target is read. */
export interface Program {
  commands: CommandEntry[];
  /** The target's Settings from --env, --lock-timeout and DATABASE_URL, the server waited for with --wait. */
  target(args: DatabaseArgs): Promise<unknown>;
}

// Declared without a yargs type, so that `abc` reaches this check as written, not as NaN.
export const positiveSeconds = (name: string) => (value: unknown) => {
  const n = Number(value);
  if (typeof value === 'boolean' || value === '' || value === undefined || !Number.isFinite(n) || n <= 0) {
    throw new UsageError(`--${name} must be a positive number of seconds, not ${value === undefined || value === '' ? 'nothing' : String(value)}`);
  }
  return n;
};

// The shared options, defined here once; `--help` of every command shows them the same way.
export const GLOBAL_OPTIONS: Record<string, Options> = {
  'env-file': { type: 'string', requiresArg: true, describe: 'read variables from this file instead of .env in the project root (the environment wins)' },
  quiet: { type: 'boolean', default: false, describe: 'print the outcome only: no line per migration file, table or chunk' },
  debug: { type: 'boolean', default: false, describe: 'print the stack trace with an error (also KAPMAN_DEBUG=1 or true)' },
};

export const DATABASE_OPTIONS = {
  env: {
    // No default here: NODE_ENV may come from .env, read after this module loads.
    type: 'string', requiresArg: true, defaultDescription: 'NODE_ENV, else development',
    describe: 'knexfile environment (development, test, production); DATABASE_URL overrides its connection',
  },
  wait: { type: 'boolean', default: false, describe: 'wait for the server to accept connections first' },
  'wait-timeout': { default: 30, requiresArg: true, coerce: positiveSeconds('wait-timeout'), describe: 'seconds --wait waits at most' },
  'lock-timeout': {
    default: DEFAULT_LOCK_TIMEOUT_MS / 1000, requiresArg: true, coerce: positiveSeconds('lock-timeout'),
    describe: 'seconds to wait for a lock (held by another session or another run) before giving up',
  },
  json: { type: 'boolean', default: false, describe: 'print the result as JSON on stdout (progress goes to stderr)' },
} satisfies Record<string, Options>;
export type SharedOption = keyof typeof DATABASE_OPTIONS;

/** A TCP port: 1 to 65535. */
export function positivePort(value: unknown): number {
  const n = Number(value);
  if (value === '' || !Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`--port must be a TCP port (1-65535), not ${value === '' ? 'nothing' : String(value)}`);
  return n;
}

const isTrue = (value: string | undefined) => ['1', 'true'].includes((value ?? '').toLowerCase());

/** Prints one line (and a hint) for any error, the stack trace with `debug`; returns the exit code. */
export function report(err: unknown, o: { json?: boolean; debug?: boolean } = {}): number {
  const known = err instanceof KapmanError;
  const message = known ? err.message : redact(String((err as Error)?.message ?? err));
  const hint = known ? err.hint : `this is unexpected; rerun with --debug for the stack trace`;
  const exitCode = known ? err.exitCode : 1;
  process.stderr.write(`kapman: error: ${message}\n`);
  if (hint) process.stderr.write(`kapman: hint: ${hint}\n`);
  if (o.debug && err instanceof Error && err.stack) process.stderr.write(`${redact(err.stack)}\n`);
  if (o.json) {
    const error = { exitCode, class: known ? err.name : 'Error', message, hint };
    process.stdout.write(`${JSON.stringify({ ...(known ? err.result as object : {}), error }, null, 2)}\n`);
  }
  return exitCode;
}

/** The names of the options a command accepts, each with whether it is a boolean. */
export function commandOptions(command: CommandSpec<unknown, unknown>): Map<string, boolean> {
  const probe = declare(yargs([]), command);
  // getOptions() is yargs' own record of what was declared (not in its typings).
  const declared = (probe as unknown as { getOptions(): { key: Record<string, unknown>; boolean: string[] } }).getOptions();
  const names = Object.keys(declared.key).filter((k) => k !== 'help' && k !== 'version');
  return new Map(names.map((k) => [k, declared.boolean.includes(k)]));
}

/** Declares a command's options: the global ones, the shared ones it uses, then its own. */
function declare(y: Argv, command: CommandSpec<unknown, unknown>): Argv {
  y = y.options(GLOBAL_OPTIONS);
  const shared: SharedOption[] = command.database ? (Object.keys(DATABASE_OPTIONS) as SharedOption[]) : command.shared ?? [];
  for (const name of shared) y = y.option(name, DATABASE_OPTIONS[name] as Options);
  return command.options ? command.options(y) : y;
}

/** `npm run …`: the flags typed before its `--` never reach the command. */
const runByNpmScript = (env: NodeJS.ProcessEnv) => env.npm_command === 'run' || env.npm_command === 'run-script';

/**
 * `npm run db:reset --dry-run`, without `--`: npm takes the flag for itself and the command
 * never sees it, only npm_config_dry_run in the environment. Running as if it were not given
 * would do what the user said not to; say so instead. undefined when nothing was swallowed.
 */
export function swallowedFlags(options: Map<string, boolean>, env: NodeJS.ProcessEnv): string[] | undefined {
  if (!runByNpmScript(env)) return undefined; // npx and plain node pass every flag
  const flags: string[] = [];
  for (const [name, isBoolean] of options) {
    const value = env[`npm_config_${name.replace(/-/g, '_')}`];
    if (value === undefined) continue;
    if (isBoolean) flags.push(value === '' || value === 'false' ? `--no-${name}` : `--${name}`);
    else flags.push(value === 'true' ? `--${name} <value>` : `--${name} ${value}`); // `--env test`: npm keeps only "true"
  }
  return flags.length ? flags : undefined;
}

/**
 * Flags before npm's `--` that npm does not know either (a typo such as `--dry-rn`): npm warns,
 * keeps them as npm_config_* and runs the script anyway, without them. Found as the
 * npm_config_* variables that are none of npm's own options (its list, from the npm that runs
 * us), none of what npm sets itself, and set in no npmrc file. Where npm's list cannot be read
 * (another npm layout), none are found.
 */
export function flagsUnknownToNpm(env: NodeJS.ProcessEnv, own: Map<string, boolean>): string[] {
  if (!runByNpmScript(env) || !env.npm_execpath) return [];
  const known = new Set(['global_prefix', 'local_prefix', 'npm_version', ...[...own.keys()].map((k) => k.replace(/-/g, '_'))]);
  // npm's options are read from the text of its list: requiring it costs ~60 ms of every start.
  // A shorthand (-s) reaches the environment under its long name, so the names suffice.
  let npmNames: string[] = [];
  try {
    const definitions = path.join(path.dirname(env.npm_execpath), '..', 'node_modules', '@npmcli', 'config', 'lib', 'definitions', 'definitions.js');
    npmNames = [...fs.readFileSync(definitions, 'utf8').matchAll(/new Definition\('([^']+)'/g)].map((m) => m[1]);
  } catch {
    // another npm layout: none found
  }
  if (npmNames.length === 0) return [];
  for (const k of npmNames) known.add(k.replace(/-/g, '_'));
  const npmrcs = [env.npm_config_globalconfig, env.npm_config_userconfig, env.npm_config_local_prefix && path.join(env.npm_config_local_prefix, '.npmrc')];
  for (const file of npmrcs) {
    if (!file || !fs.existsSync(file)) continue;
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      const key = /^\s*([^#;=\s][^=]*?)\s*=/.exec(line)?.[1];
      if (key) known.add(key.replace(/-/g, '_').toLowerCase());
    }
  }
  return Object.keys(env).filter((k) => k.startsWith('npm_config_') && !known.has(k.slice('npm_config_'.length)))
    .map((k) => `--${k.slice('npm_config_'.length).replace(/_/g, '-')}`);
}

/** Edit distance (Levenshtein), for "did you mean". */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}

/** The option (`--no-` forms of booleans included) that `typed`, a name without dashes, most likely misspells; undefined when none is close. */
export function nearestOption(typed: string, options: Map<string, boolean>): string | undefined {
  const names = [...options].flatMap(([name, isBoolean]) => (isBoolean ? [name, `no-${name}`] : [name])).filter((n) => n !== 'help');
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const n of names) {
    const d = distance(typed.toLowerCase(), n);
    if (d < bestDistance) [best, bestDistance] = [n, d];
  }
  return bestDistance <= Math.max(1, Math.min(2, Math.floor(typed.length / 3))) ? best : undefined;
}

/** Runs the parsed command: its target's settings (waited for with --wait), the work, then the --json result. */
async function execute(target: Program['target'], command: CommandSpec<unknown, unknown>, args: DatabaseArgs): Promise<void> {
  setOutput({ quiet: args.quiet, toStderr: args.json });
  let result: unknown;
  let line: string | undefined;
  if (command.database) {
    const settings = await target(args);
    result = await command.run(args, settings);
    line = command.outcome?.(result, settings);
  } else {
    result = await command.run(args);
    line = command.outcome?.(result);
  }
  // Without --quiet the command's own lines already end with it.
  if (args.quiet && line) outcome(line);
  if (args.json) process.stdout.write(`${JSON.stringify(result ?? {}, null, 2)}\n`);
}

function version(): string {
  return (JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * The whole program, `kapman-db <command> [options]` or one command run by its npm script:
 * parses, runs, prints any error once, and returns the exit code (main() exits with it).
 */
export async function runProgram({ commands, target }: Program, given: string[], env: NodeJS.ProcessEnv = process.env, typedProgram = PROGRAM): Promise<number> {
  // The command is the first word that names one (`kapman-db --quiet status` works too); it goes first.
  const at = given.findIndex((a) => commands.some((c) => c.name === a));
  const argv = at > 0 ? [given[at], ...given.slice(0, at), ...given.slice(at + 1)] : given;
  const entry = commands.find((c) => c.name === argv[0]);
  // Run by its npm script (`npm run db:reset -- …`): usage and hints name that script.
  const viaNpm = entry !== undefined && env.npm_lifecycle_event === npmScript(entry.name);
  const name = viaNpm ? `npm run ${npmScript(entry.name)} --` : typedProgram;
  const json = argv.includes('--json');
  const debug = argv.includes('--debug') || isTrue(env.KAPMAN_DEBUG);
  // The command as the user typed it (npx sets npm_command=exec), for hints that give a line to run.
  const typedAs = viaNpm ? name : `${env.npm_command === 'exec' ? 'npx ' : ''}${typedProgram}${entry ? ` ${entry.name}` : ''}`;
  const seeHelp = `see \`${name}${entry && !viaNpm ? ` ${entry.name}` : ''} --help\``;
  const typed = (args: string[]) => [typedAs, ...args.map(shellWord)].join(' ');
  const typedArgs = entry ? argv.slice(1) : argv;
  // Known before parsing, so that the .env line obeys it too.
  setOutput({ quiet: argv.includes('--quiet'), toStderr: json });
  try {
    if (!entry && argv[0] !== undefined && !argv[0].startsWith('-')) {
      throw new UsageError(`no command "${argv[0]}"; the commands are ${commands.map((c) => c.name).join(', ')}`, seeHelp);
    }
    // Before the command's options are built: their defaults read the environment (PG_BIN).
    const envFile = Parser(argv, { string: ['env-file'] })['env-file'] as string | undefined;
    if (envFile === '') throw new UsageError('--env-file needs a path', seeHelp);
    loadDotEnv(PROJECT_ROOT, envFile);
    let program = yargs(viaNpm ? argv.slice(1) : argv)
      .scriptName(name)
      .strict()
      .help()
      .alias('h', 'help')
      .wrap(Math.min(120, yargs().terminalWidth()))
      .exitProcess(false)
      .fail((msg, err) => {
        // yargs' own complaints (and a throwing coerce) are usage errors; the command's errors pass through.
        if (err instanceof KapmanError || (err && err.name !== 'YError')) throw err;
        throw usageInOurWords(err?.message ?? msg);
      });
    // yargs' words for a missing positional or an unknown option, said as the house says them.
    const usageInOurWords = (said: string): UsageError => {
      if (entry?.needs && /^Not enough non-option arguments/.test(said)) {
        return new UsageError(`${entry.name} needs ${entry.needs}: ${typed([...typedArgs.filter((a) => a.startsWith('-')), entry.placeholder ?? ''])}`.trimEnd(), seeHelp);
      }
      const unknown = /^Unknown arguments?: (.+)$/.exec(said)?.[1].split(', ');
      if (!chosen || !unknown) return new UsageError(said, seeHelp);
      // yargs names each unknown flag twice, as typed and camelCased (dry-rn, dryRn).
      const names = unknown.filter((n) => !(/[A-Z]/.test(n) && unknown.includes(n.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`))));
      // As typed: yargs reports --no-x as x.
      const asTyped = (n: string) => [n, `no-${n}`].find((t) => typedArgs.some((a) => a === `-${t}` || a === `--${t}` || a.startsWith(`--${t}=`)));
      const strays = names.filter((n) => !asTyped(n));
      if (strays.length) return new UsageError(`unexpected argument${strays.length > 1 ? 's' : ''} ${strays.map((n) => `"${n}"`).join(', ')}`, seeHelp);
      const flags = names.map((n) => asTyped(n)!);
      const options = commandOptions(chosen);
      const fixes = new Map(flags.map((f) => [f, nearestOption(f, options)]));
      const spelled = (f: string) => (f.length === 1 ? `-${f}` : `--${f}`);
      const message = `unknown option${flags.length > 1 ? 's' : ''} ${flags.map(spelled).join(', ')}`;
      if (![...fixes.values()].some(Boolean)) return new UsageError(message, seeHelp);
      const fixed = typedArgs.map((a) => {
        const m = /^--?([^=]+)(=.*)?$/.exec(a);
        const fix = m ? fixes.get(m[1]) : undefined;
        return fix ? `--${fix}${m![2] ?? ''}` : a;
      });
      const guesses = [...fixes.values()].filter(Boolean).map((f) => `--${f}`).join(', ');
      return new UsageError(message, `did you mean ${guesses}? run: ${typed(fixed)}`);
    };
    let chosen: CommandSpec<unknown, unknown> | undefined;
    if (entry) {
      const command = entry.load();
      // Only an npm script can lose flags to npm; the options' list costs a yargs of its own.
      const options = runByNpmScript(env) ? commandOptions(command) : new Map<string, boolean>();
      const swallowed = swallowedFlags(options, env);
      if (swallowed) {
        throw new UsageError(`npm took ${swallowed.join(', ')} for itself (no \`--\` before it), so nothing was done; run: ${name} ${swallowed.join(' ')}`);
      }
      const unknown = flagsUnknownToNpm(env, options);
      if (unknown.length) {
        // A typo, most likely: name the option it misspells, as it must be typed, when one is close.
        const fixes = unknown.map((flag) => {
          const fix = nearestOption(flag.slice(2), options);
          if (!fix) return undefined;
          const value = env[`npm_config_${flag.slice(2).replace(/-/g, '_')}`];
          return options.get(fix) || value === undefined || value === 'true' || value === '' ? `--${fix}` : `--${fix} ${shellWord(value)}`;
        });
        const guesses = fixes.filter((f): f is string => f !== undefined);
        throw new UsageError(`npm took ${unknown.join(', ')} for itself (no \`--\` before it), and neither npm nor ${npmScript(entry.name)} knows ${unknown.length > 1 ? 'them' : 'it'}, so nothing was done`,
          guesses.length ? `did you mean ${guesses.join(', ')}? run: ${name} ${guesses.join(' ')}` : seeHelp);
      }
      const usage = [viaNpm ? '$0' : entry.name, entry.positionals].filter(Boolean).join(' ');
      program = program.version(false).command(usage, entry.describe, (y) => declare(y, command));
      chosen = command;
    } else {
      // No command: list them all (loading none).
      program = program.version(version()).alias('v', 'version');
      for (const c of commands) program = program.command([c.name, c.positionals].filter(Boolean).join(' '), c.describe);
      program = program.demandCommand(1, 'name a command')
        .epilogue(`Each command: ${name} <command> --help. The npm scripts run the same: npm run db:<command> -- [options].`);
    }
    const args = await program.parseAsync();
    // Run once yargs is done rather than as its handler: for a handler, yargs first renders the
    // whole help text (in case the handler asks for it), tens of milliseconds of every start.
    if (chosen && !args.help) await execute(target, chosen, args as unknown as DatabaseArgs);
    return 0;
  } catch (err) {
    // The refusal's way past it is the command as the user typed it, with --force.
    const refusal = err instanceof ProductionGuardError && err.loses !== undefined
      ? new ProductionGuardError(err.message, `${err.loses}; if you mean it, run: ${typed([...typedArgs, '--force'])}`, { cause: err }) : err;
    return report(refusal, { json, debug });
  }
}

/** `node scripts/kapman-db.js …`: the program, with signals handled, as the process. */
export function main(program: Program): void {
  handleSignals();
  void runProgram(program, hideBin(process.argv), process.env, programAsTyped(process.argv[1], process.cwd())).then((code) => process.exit(code));
}

/** The commands, for tests and the README check: each with its options. */
export function describeCommands(commands: CommandEntry[]): Array<CommandEntry & { options: Map<string, boolean> }> {
  return commands.map((c) => {
    const positionals = [...(c.positionals ?? '').matchAll(/[<[](\w+)/g)].map((m) => m[1]);
    const options = [...commandOptions(c.load())].filter(([name]) => !positionals.includes(name));
    return { ...c, options: new Map(options) };
  });
}
