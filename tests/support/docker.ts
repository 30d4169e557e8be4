// The real Docker engine, for tests/docker: fails (never skips) when none answers.
import { spawnSync } from 'child_process';

export function requireDockerEngine(): void {
  const info = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8', timeout: 20_000 });
  if (info.status !== 0) {
    throw new Error(`test:docker needs a Docker engine (docker info: ${(info.stderr || info.error?.message || '').trim().split('\n')[0]}); ` +
      'start one, or point DOCKER_HOST at it (CI: eval "$(bash .ci/docker-engine.sh)")');
  }
}

/** `docker …args` in `cwd`; stdout, stderr and the exit code. */
export function docker(args: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync('docker', args, { cwd: o.cwd, env: o.env ?? process.env, encoding: 'utf8', timeout: 180_000 });
  return { code: r.status, out: r.stdout ?? '', err: r.stderr ?? '' };
}
