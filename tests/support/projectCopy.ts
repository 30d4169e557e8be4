// A copy of the project in a temporary folder, for commands that write into the project
// (.pgdata/, backups/, db/migrations/, db/schema.sql) or read a changed migration or contract.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { dbDown } from '../../scripts/db-down';
import { DEFAULT_PG_BIN } from '../../scripts/lib/server/localCluster';
import { ROOT } from './cli';

// What a checkout holds that the commands read; node_modules is shared, not copied.
const PROJECT_FILES = ['package.json', 'tsconfig.json', 'knexfile.ts', 'docker-compose.yml', 'README.md', 'scripts', 'db', 'docs'];
// And what `npm test` reads, for a copy whose own suite runs.
const TEST_FILES = ['jest.config.ts', 'jest.e2e.config.ts', 'tests', '.ci'];

export function copyProject(label: string, o: { withTests?: boolean } = {}): string {
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), `kapman-${label}-`));
  fs.chmodSync(copy, 0o755); // the local cluster runs as the postgres OS user when we are root
  for (const f of [...PROJECT_FILES, ...(o.withTests ? TEST_FILES : [])]) fs.cpSync(path.join(ROOT, f), path.join(copy, f), { recursive: true });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
  return copy;
}

/** Stops a server the copy's commands may have left up, then removes the copy. */
export async function removeProject(copy: string): Promise<void> {
  await dbDown({ docker: false, binDir: process.env.PG_BIN || DEFAULT_PG_BIN, dataDir: path.join(copy, '.pgdata') }).catch(() => undefined);
  fs.rmSync(copy, { recursive: true, force: true });
}
