// Where the project is: commands read and write its files (db/, docs/, .env, .pgdata/).
import path from 'path';

export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');

/** `<folder>/<database>-<UTC timestamp>.<extension>` in the project, the name made safe for any file system. */
export function stampedFile(folder: string, database: string, extension: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return path.join(PROJECT_ROOT, folder, `${database.replace(/[^A-Za-z0-9_.-]/g, '_')}-${stamp}.${extension}`);
}
