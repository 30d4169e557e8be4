// .env: variables for every command and for the knexfile (so `npx knex` agrees), read with
// Node's own parser. Variables already in the environment win; one line names the ones taken,
// never their values.
import fs from 'fs';
import path from 'path';
import { parseEnv } from 'util';
import { InvalidSettingsError } from './errors';
import { notice } from './log';

export interface EnvFileLoad {
  /** The file as named in the report line: `.env`, or the --env-file path as given. */
  label: string;
  /** Variables set from the file. */
  taken: string[];
  /** Variables the file holds that the environment already had. */
  kept: string[];
}

/** Sets the variables of `file` that `env` lacks; a missing file is an error only when `required`. */
export function loadEnvFile(file: string, label: string, required: boolean, env: NodeJS.ProcessEnv = process.env): EnvFileLoad | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InvalidSettingsError(`cannot read the env file ${label}: ${(err as Error).message}`,
      'check the path given to --env-file (relative paths start from the current folder)');
  }
  const load: EnvFileLoad = { label, taken: [], kept: [] };
  for (const [name, value] of Object.entries(parseEnv(text))) {
    if (env[name] !== undefined) load.kept.push(name);
    else {
      env[name] = value;
      load.taken.push(name);
    }
  }
  return load;
}

/** `--env-file PATH` when given, else `.env` in `root` when it exists; prints what it took. */
export function loadDotEnv(root: string, envFile?: string, env: NodeJS.ProcessEnv = process.env): EnvFileLoad | undefined {
  const load = envFile === undefined
    ? loadEnvFile(path.join(root, '.env'), '.env', false, env)
    : loadEnvFile(path.resolve(envFile), envFile, true, env);
  if (load && (load.taken.length || load.kept.length)) {
    const kept = load.kept.length ? ` (already set, kept: ${load.kept.join(', ')})` : '';
    notice(`${load.label}: ${load.taken.join(', ') || 'nothing taken'}${kept}`);
  }
  return load;
}
