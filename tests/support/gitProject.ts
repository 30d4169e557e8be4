// A project's db/ folder under git, for the squash: it refuses to fold what git cannot show.
import { execFileSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

const made: string[] = [];
afterAll(() => {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** git in `dir`, as a test author of its own. */
export function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=KapMan Tests', '-c', 'user.email=tests@kapman.invalid', ...args], { cwd: dir, encoding: 'utf8' });
}

/** A project whose db/migrations holds these files (name -> TypeScript), committed; returns db/migrations. */
export function gitProject(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-git-project-'));
  made.push(root);
  const directory = path.join(root, 'db', 'migrations');
  fs.mkdirSync(directory, { recursive: true });
  for (const [name, source] of Object.entries(files)) fs.writeFileSync(path.join(directory, name), source);
  git(root, 'init', '-q');
  git(root, 'add', '-A');
  git(root, 'commit', '-qm', 'migrations');
  return directory;
}

/** Every file under the project's `db/` folder with its text (db/…): what a refused squash must leave as it was. */
export function dbFiles(dbDir: string): Record<string, string> {
  const root = path.dirname(dbDir);
  const walk = (dir: string): Array<[string, string]> => fs.readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [[path.relative(root, path.join(dir, e.name)), fs.readFileSync(path.join(dir, e.name), 'utf8')]]));
  return Object.fromEntries(walk(dbDir));
}
