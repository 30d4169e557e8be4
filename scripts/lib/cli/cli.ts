// The one CLI layer: `kapman-db <command>` and every `npm run db:*` script enter here. It
// defines the shared options once, validates them, refuses flags npm swallowed, waits for the
// server when asked, prints a --json result, and prints any error once, with its exit code.
import fs from 'fs';
import path from 'path';
import yargs, { Argv, Options } from 'yargs';
import { hideBin, Parser } from 'yargs/helpers';
import { DEFAULT_LOCK_TIMEOUT_MS } from '../server/timeouts';
import { PROJECT_ROOT } from '../paths';
import { CommandEntry, COMMANDS, npmScript } from './commands';
import { loadDotEnv } from './dotenv';
import { InvalidSettingsError, KapmanError, UsageError } from './errors';
import { handleSignals } from './interrupt';
import { redact, setOutput } from './log';
import type { Settings } from '../server/settings';

const PROGRAM = 'kapman-db';

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
 * the shared database options and the target's Settings (read, and waited for, here); what
 * `run` returns is the result `--json` prints.
 */
export type KapmanCommand<A = object> =
  | { database: true; options?: (y: Argv) => Argv; run(args: A & DatabaseArgs, settings: Settings): Promise<unknown> }
  | { database: false; shared?: SharedOption[]; options?: (y: Argv) => Argv; run(args: A & GlobalArgs): Promise<unknown> };

// Declared without a yargs type, so that `abc` reaches this check as written, not as NaN.
const positiveSeconds = (name: string) => (value: unknown) => {
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

/** The Settings of the target that --env, --lock-timeout and DATABASE_URL name. */
export function settingsFromArgs(args: { env?: string; 'lock-timeout'?: number }): Settings {
  const lockTimeout = args['lock-timeout'];
  if (lockTimeout !== undefined) positiveSeconds('lock-timeout')(lockTimeout);
  if (args.env === '') throw new UsageError('--env needs a name: development, test or production');
  // Set but empty (DATABASE_URL="$UNSET" in a script) is a mistake, not a wish for the default database.
  if (process.env.DATABASE_URL === '') {
    throw new InvalidSettingsError('DATABASE_URL is set but empty', 'give it the target\'s URL, or unset it to use the environment\'s default database');
  }
  // Loaded here, not at the top: `kapman-db new` and `--help` need no driver.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { loadSettings } = require('../server/settings') as typeof import('../server/settings');
  return loadSettings({ env: args.env ?? process.env.NODE_ENV, databaseUrl: process.env.DATABASE_URL, lockTimeoutMs: lockTimeout === undefined ? undefined : lockTimeout * 1000 });
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
export function commandOptions(command: KapmanCommand<unknown>): Map<string, boolean> {
  const probe = declare(yargs([]), command);
  // getOptions() is yargs' own record of what was declared (not in its typings).
  const declared = (probe as unknown as { getOptions(): { key: Record<string, unknown>; boolean: string[] } }).getOptions();
  const names = Object.keys(declared.key).filter((k) => k !== 'help' && k !== 'version');
  return new Map(names.map((k) => [k, declared.boolean.includes(k)]));
}

/** Declares a command's options: the global ones, the shared ones it uses, then its own. */
function declare(y: Argv, command: KapmanCommand<unknown>): Argv {
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

/** Runs the parsed command: settings, --wait, the work, then the --json result. */
async function execute(command: KapmanCommand<unknown>, args: DatabaseArgs): Promise<void> {
  setOutput({ quiet: args.quiet, toStderr: args.json });
  let result: unknown;
  if (command.database) {
    const settings = settingsFromArgs(args);
    if (args.wait) {
      const { waitForServer } = await import('../server/connection');
      await waitForServer(settings.url, args['wait-timeout'] * 1000);
    }
    result = await command.run(args, settings);
  } else {
    result = await command.run(args);
  }
  if (args.json) process.stdout.write(`${JSON.stringify(result ?? {}, null, 2)}\n`);
}

function version(): string {
  return (JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * The whole program, `kapman-db <command> [options]` or one command run by its npm script:
 * parses, runs, prints any error once, and returns the exit code (main() exits with it).
 */
export async function runProgram(given: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  // The command is the first word that names one (`kapman-db --quiet status` works too); it goes first.
  const at = given.findIndex((a) => COMMANDS.some((c) => c.name === a));
  const argv = at > 0 ? [given[at], ...given.slice(0, at), ...given.slice(at + 1)] : given;
  const entry = COMMANDS.find((c) => c.name === argv[0]);
  // Run by its npm script (`npm run db:reset -- …`): usage and hints name that script.
  const viaNpm = entry !== undefined && env.npm_lifecycle_event === npmScript(entry.name);
  const name = viaNpm ? `npm run ${npmScript(entry.name)} --` : PROGRAM;
  const json = argv.includes('--json');
  const debug = argv.includes('--debug') || isTrue(env.KAPMAN_DEBUG);
  const seeHelp = `see \`${name}${entry && !viaNpm ? ` ${entry.name}` : ''} --help\``;
  setOutput({ quiet: false, toStderr: json });
  try {
    if (!entry && argv[0] !== undefined && !argv[0].startsWith('-')) {
      throw new UsageError(`no command "${argv[0]}"; the commands are ${COMMANDS.map((c) => c.name).join(', ')}`, seeHelp);
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
        throw err instanceof KapmanError || (err && err.name !== 'YError') ? err : new UsageError(err?.message ?? msg, seeHelp);
      });
    let chosen: KapmanCommand<unknown> | undefined;
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
        throw new UsageError(`npm took ${unknown.join(', ')} for itself (no \`--\` before it; npm does not know it either), so nothing was done; for the command: ${name} ${unknown.join(' ')}`);
      }
      const usage = [viaNpm ? '$0' : entry.name, entry.positionals].filter(Boolean).join(' ');
      program = program.version(false).command(usage, entry.describe, (y) => declare(y, command));
      chosen = command;
    } else {
      // No command: list them all (loading none).
      program = program.version(version()).alias('v', 'version');
      for (const c of COMMANDS) program = program.command([c.name, c.positionals].filter(Boolean).join(' '), c.describe);
      program = program.demandCommand(1, 'name a command')
        .epilogue('Each command: kapman-db <command> --help. The npm scripts run the same: npm run db:<command> -- [options].');
    }
    const args = await program.parseAsync();
    // Run once yargs is done rather than as its handler: for a handler, yargs first renders the
    // whole help text (in case the handler asks for it), tens of milliseconds of every start.
    if (chosen && !args.help) await execute(chosen, args as unknown as DatabaseArgs);
    return 0;
  } catch (err) {
    return report(err, { json, debug });
  }
}

/** `node scripts/kapman-db.js …`: the program, with signals handled, as the process. */
export function main(): void {
  handleSignals();
  void runProgram(hideBin(process.argv)).then((code) => process.exit(code));
}

/** The commands, for tests and the README check: each with its options. */
export function describeCommands(): Array<CommandEntry & { options: Map<string, boolean> }> {
  return COMMANDS.map((c) => {
    const positionals = [...(c.positionals ?? '').matchAll(/[<[](\w+)/g)].map((m) => m[1]);
    const options = [...commandOptions(c.load())].filter(([name]) => !positionals.includes(name));
    return { ...c, options: new Map(options) };
  });
}
