// A stand-in for the docker CLI, for testing the backups' Docker path on a machine without a
// Docker engine. It implements only what scripts/lib calls (`docker info`, `docker compose version`, `ps`,
// `port`, `exec -T [-e NAME] timescaledb pg_dump|pg_restore …`) and, for exec, runs the real
// local PostgreSQL binaries against the real test server, which stands for the container's own
// server: the container's socket becomes PGHOST/PGPORT. Like a container, the binary gets a
// fresh environment holding only the variables named with -e. Every call's argv is appended
// to a log (with which -e names had a value), so a test can check what crossed the command line.
// It is no test of Docker itself: the real engine's behaviour is only what its documentation says.
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';

export interface ShimConfig {
  /** Host and port of the server that stands for the container's. */
  server: { host: string; port: number };
  /** Folder of the real pg_dump and pg_restore. */
  binDir: string;
  /** The host port `docker compose port timescaledb 5432` reports. */
  publishedPort: number;
  /** false: answer as a docker CLI without the Compose v2 plugin does. */
  compose: boolean;
  /** false: `docker info` fails, as where no engine answers (default: one answers). */
  engine?: boolean;
  /** Whether `docker compose ps` lists the service as running. */
  running: boolean;
  /** A command whose exec fails as when the container stopped after the checks (its --version still answers). */
  failExec?: 'pg_dump' | 'pg_restore';
  /** One JSON line per call. */
  log: string;
}

export interface ShimCall {
  argv: string[];
  /** The -e names that had a value in the CLI's environment (the values are never recorded). */
  envPassed: string[];
}

const SERVICE = 'timescaledb';

/** Writes `dir/docker` (runs this file with `config`) and returns how to change the config and read the calls. */
export function installDockerShim(dir: string, config: ShimConfig) {
  const configFile = path.join(dir, 'shim.json');
  const write = (c: ShimConfig) => fs.writeFileSync(configFile, JSON.stringify(c));
  write(config);
  const root = path.resolve(__dirname, '..', '..');
  const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
  fs.writeFileSync(path.join(dir, 'docker'),
    `#!/bin/sh\nexec ${q(process.execPath)} -r ${q(path.join(root, 'scripts', 'register.js'))} ${q(__filename)} ${q(configFile)} "$@"\n`, { mode: 0o755 });
  let current = config;
  return {
    set(change: Partial<ShimConfig>) {
      current = { ...current, ...change };
      write(current);
    },
    calls(): ShimCall[] {
      return fs.existsSync(current.log) ? fs.readFileSync(current.log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
    },
    clear() {
      fs.rmSync(current.log, { force: true });
    },
  };
}

function fail(message: string, code = 1): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function main(configFile: string, argv: string[]): void {
  const config: ShimConfig = JSON.parse(fs.readFileSync(configFile, 'utf8'));
  const passed: string[] = [];
  if (argv[0] === 'info') {
    fs.appendFileSync(config.log, `${JSON.stringify({ argv, envPassed: [] })}\n`);
    if (config.engine === false) fail('Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?');
    return void process.stdout.write('20.10 (test stand-in)\n');
  }
  if (argv[0] !== 'compose' || !config.compose) {
    fs.appendFileSync(config.log, `${JSON.stringify({ argv, envPassed: [] })}\n`);
    // What docker 28's CLI prints without the plugin (seen on this machine).
    fail(`docker: unknown command: docker ${argv[0] ?? ''}\n\nRun 'docker --help' for more information`);
  }
  const [, sub, ...rest] = argv;
  let i = 0;
  let tty = true;
  const containerEnv: Record<string, string> = {};
  if (sub === 'exec') {
    for (; i < rest.length && rest[i].startsWith('-'); i++) {
      if (rest[i] === '-T' || rest[i] === '--no-TTY' || rest[i] === '--no-tty') tty = false;
      else if (rest[i] === '-e' || rest[i] === '--env') {
        const [name, ...value] = rest[++i].split('=');
        // Docker's documented rule: NAME alone takes the value from the CLI's environment, if any.
        if (value.length) {
          containerEnv[name] = value.join('=');
        } else if (process.env[name] !== undefined) {
          containerEnv[name] = process.env[name]!;
          passed.push(name);
        }
      } else fail(`unknown flag: ${rest[i]} (not implemented by the test's docker stand-in)`);
    }
  }
  fs.appendFileSync(config.log, `${JSON.stringify({ argv, envPassed: passed })}\n`);
  if (sub === 'version') return void process.stdout.write('Docker Compose version v2 (test stand-in)\n');
  if (sub === 'ps') return void process.stdout.write(config.running && rest.includes('--services') ? `${SERVICE}\n` : '');
  if (sub === 'port') {
    if (rest[0] !== SERVICE) fail(`no such service: ${rest[0]}`);
    return void process.stdout.write(`0.0.0.0:${config.publishedPort}\n`);
  }
  if (sub !== 'exec') fail(`docker compose ${sub} is not implemented by the test's docker stand-in`);
  const [service, command, ...args] = rest.slice(i);
  if (service !== SERVICE) fail(`no such service: ${service}`);
  if (!config.running || (config.failExec === command && !args.includes('--version'))) fail(`service "${SERVICE}" is not running`);
  if (tty && !process.stdin.isTTY) fail('the input device is not a TTY');
  if (command !== 'pg_dump' && command !== 'pg_restore') fail(`${command} is not implemented by the test's docker stand-in`);
  const result = spawnSync(path.join(config.binDir, command), args, {
    stdio: 'inherit',
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', PGHOST: config.server.host, PGPORT: String(config.server.port), ...containerEnv },
  });
  process.exit(result.status ?? 1);
}

if (require.main === module) main(process.argv[2], process.argv.slice(3));
