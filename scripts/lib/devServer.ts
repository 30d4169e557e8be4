// The development server that the knexfile's defaults point at: docker compose when a
// Docker engine answers, else a project-local cluster in .pgdata/ (git-ignored).
import { execFileSync } from 'child_process';
import path from 'path';
import { DEFAULT_URLS } from '../../knexfile';
import { ClusterOptions } from './localCluster';
import { parseUrl } from './settings';

export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');

export function dockerEngineAnswers(): boolean {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** The local cluster mirrors docker-compose.yml: role, password, port and database of the development default. */
export function devClusterOptions(binDir: string): ClusterOptions & { database: string } {
  const url = DEFAULT_URLS.development!;
  const { database, user, password } = parseUrl(url);
  return {
    binDir,
    dataDir: path.join(PROJECT_ROOT, '.pgdata'),
    port: Number(new URL(url).port || 5432),
    user,
    password: password ?? '',
    database,
  };
}

export function compose(args: string[]): void {
  execFileSync('docker', ['compose', ...args], { cwd: PROJECT_ROOT, stdio: 'inherit' });
}
