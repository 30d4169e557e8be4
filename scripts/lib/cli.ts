// The thin top of every command: parse with yargs, run, and print an error once, here.
import yargs, { Argv, CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { DEFAULT_LOCK_TIMEOUT_MS } from '../../knexfile';
import { KapmanError, UsageError } from './errors';
import { handleSignals } from './interrupt';
import { redact } from './log';
import { loadSettings, Settings } from './settings';

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

/** Runs one command module as the whole program (`ts-node scripts/reset.ts --help`). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each command has its own argument type
export function runCli(command: CommandModule<object, any>, scriptName: string): void {
  handleSignals();
  void yargs(hideBin(process.argv))
    .scriptName(scriptName)
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
