// The thin top of every command: parse with yargs, run, and print an error once, here.
import yargs, { Argv, CommandModule } from 'yargs';
import { hideBin, Parser } from 'yargs/helpers';
import { DEFAULT_LOCK_TIMEOUT_MS } from '../../../knexfile';
import { PROJECT_ROOT } from '../server/devServer';
import { loadDotEnv } from './dotenv';
import { KapmanError, UsageError } from './errors';
import { handleSignals } from './interrupt';
import { redact } from './log';
import { loadSettings, Settings } from '../server/settings';

export const USAGE_EXIT_CODE = 2;

/** --env, as the knex CLI has it; DATABASE_URL is read here, at the top, and nowhere below. */
export function withEnvironment<T>(y: Argv<T>) {
  return y.option('env', {
    type: 'string',
    default: process.env.NODE_ENV || 'development',
    defaultDescription: 'NODE_ENV, else development',
    describe: 'knexfile environment (development, test, production); DATABASE_URL overrides its connection',
  });
}

/** --lock-timeout, for the commands that take locks (migrate, rollback, reset). */
export function withLockTimeout<T>(y: Argv<T>) {
  return y.option('lock-timeout', {
    type: 'number',
    default: DEFAULT_LOCK_TIMEOUT_MS / 1000,
    describe: 'seconds to wait for a lock (held by another session or another run) before giving up',
  });
}

export function settingsFromArgs(args: { env?: string; 'lock-timeout'?: number }): Settings {
  const lockTimeout = args['lock-timeout'];
  if (lockTimeout !== undefined && !(lockTimeout > 0)) {
    throw new UsageError(`--lock-timeout must be a positive number of seconds, not ${lockTimeout}`);
  }
  return loadSettings({ env: args.env, databaseUrl: process.env.DATABASE_URL, lockTimeoutMs: lockTimeout === undefined ? undefined : lockTimeout * 1000 });
}

/** Prints one line (and a hint) for any error and exits with its class's code. */
export function reportAndExit(err: unknown): never {
  const debug = Boolean(process.env.KAPMAN_DEBUG);
  if (err instanceof KapmanError) {
    process.stderr.write(`kapman: error: ${err.message}\n`);
    if (err.hint) process.stderr.write(`kapman: hint: ${err.hint}\n`);
  } else {
    process.stderr.write(`kapman: error: ${redact(String((err as Error)?.message ?? err))}\n`);
    process.stderr.write('kapman: hint: this is unexpected; rerun with KAPMAN_DEBUG=1 for the stack trace\n');
  }
  if (debug && err instanceof Error && err.stack) process.stderr.write(`${redact(err.stack)}\n`);
  process.exit(err instanceof KapmanError ? err.exitCode : 1);
}

// Options every command has, defined here once.
const ENV_FILE = 'env-file';

/** The command's own option names (from its yargs builder), each with whether it is a boolean. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each command has its own argument type
export function ownOptions(command: CommandModule<object, any>): Map<string, boolean> {
  const probe = yargs([]).option(ENV_FILE, { type: 'string' });
  if (typeof command.builder === 'function') command.builder(probe);
  else if (command.builder) probe.options(command.builder);
  // getOptions() is yargs' own record of what the builder declared (not in its typings).
  const declared = (probe as unknown as { getOptions(): { key: Record<string, unknown>; boolean: string[] } }).getOptions();
  const names = Object.keys(declared.key).filter((k) => k !== 'help' && k !== 'version');
  return new Map(names.map((k) => [k, declared.boolean.includes(k)]));
}

/**
 * `npm run db:reset --dry-run`, without `--`: npm takes the flag for itself and the command
 * never sees it, only npm_config_dry_run in the environment. Running as if it were not given
 * would do what the user said not to; say so instead. undefined when nothing was swallowed.
 */
export function swallowedFlags(options: Map<string, boolean>, env: NodeJS.ProcessEnv): string[] | undefined {
  if (!env.npm_lifecycle_event && !env.npm_command) return undefined; // not run by npm
  const flags: string[] = [];
  for (const [name, isBoolean] of options) {
    const value = env[`npm_config_${name.replace(/-/g, '_')}`];
    if (value === undefined) continue;
    if (isBoolean) flags.push(value === '' || value === 'false' ? `--no-${name}` : `--${name}`);
    else flags.push(value === 'true' ? `--${name} <value>` : `--${name} ${value}`); // `--env test`: npm keeps only "true"
  }
  return flags.length ? flags : undefined;
}

/** Runs one command module as the whole program (`ts-node scripts/reset.ts --help`). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each command has its own argument type
export function runCli(command: CommandModule<object, any>, scriptName: string): void {
  handleSignals();
  const argv = hideBin(process.argv);
  const swallowed = swallowedFlags(ownOptions(command), process.env);
  if (swallowed) {
    process.stderr.write(`kapman: error: npm took ${swallowed.join(', ')} for itself (no \`--\` before it), so nothing was done; run: ${scriptName} ${swallowed.join(' ')}\n`);
    process.exit(USAGE_EXIT_CODE);
  }
  try {
    // Before the command's options are built: their defaults read the environment (NODE_ENV, PG_BIN).
    const envFile = Parser(argv, { string: [ENV_FILE] })[ENV_FILE] as string | undefined;
    loadDotEnv(PROJECT_ROOT, envFile);
  } catch (err) {
    reportAndExit(err);
  }
  void yargs(argv)
    .scriptName(scriptName)
    .option(ENV_FILE, { type: 'string', global: true, describe: 'read variables from this file instead of .env in the project root (the environment wins)' })
    // The program stands in for the command's name; its positionals (`db:new <name>`) stay.
    .command({ ...command, command: `$0${String(command.command ?? '').replace(/^\S+/, '')}` })
    .strict()
    .help()
    .version(false)
    .fail((msg, err) => {
      if (err) reportAndExit(err);
      process.stderr.write(`kapman: error: ${msg}\nkapman: hint: see \`${scriptName} --help\`\n`);
      process.exit(USAGE_EXIT_CODE);
    })
    .parseAsync()
    .then(() => process.exit(process.exitCode ?? 0))
    .catch(reportAndExit);
}
