// What travels with a backup, in FILE.json beside the archive. Beside, not inside: putting
// it inside would mean writing to the database being backed up (a table or a comment), and a
// backup must be a pure read of production. The record holds the archive's size and sha256,
// so a truncated or swapped archive is refused before anything is touched.
import crypto from 'crypto';
import fs from 'fs';
import { BackupInvalidError } from '../cli/errors';
import type { AppliedMigration } from '../schema/introspect';

export const METADATA_FORMAT = 'kapman-db backup 1';

export interface BackupMetadata {
  format: typeof METADATA_FORMAT;
  /** The database backed up, and when (UTC, ISO 8601). */
  database: string;
  createdAt: string;
  server: { version: string; versionNum: number };
  /** The TimescaleDB extension's version in the database (the restore creates this one). */
  timescaledb: string | null;
  pgDump: string;
  migrations: AppliedMigration[];
  /** Rows of each table in public, in the dump's snapshot. */
  rowCounts: Record<string, number>;
  /** Chunks of each hypertable in public, in the dump's snapshot. */
  chunks: Record<string, number>;
  archive: { file: string; bytes: number; sha256: string };
}

export const metadataFile = (archive: string) => `${archive}.json`;

export async function sha256OfFile(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The metadata of `archive`, once the archive is proven to be the one it describes. */
export async function readBackup(archive: string): Promise<BackupMetadata> {
  if (!fs.existsSync(archive)) throw new BackupInvalidError(`backup ${archive} does not exist`, 'name a file written by `npm run db:backup`');
  const json = metadataFile(archive);
  let meta: BackupMetadata;
  try {
    meta = JSON.parse(fs.readFileSync(json, 'utf8'));
  } catch (err) {
    throw new BackupInvalidError(`the metadata of backup ${archive} cannot be read (${json}): ${(err as Error).message}`,
      `a backup is two files, the archive and ${json}: copy both; nothing was changed`);
  }
  if (meta?.format !== METADATA_FORMAT) {
    throw new BackupInvalidError(`${json} is not the metadata of a kapman-db backup`, 'name a file written by `npm run db:backup`; nothing was changed');
  }
  const bytes = fs.statSync(archive).size;
  if (bytes !== meta.archive.bytes || (await sha256OfFile(archive)) !== meta.archive.sha256) {
    throw new BackupInvalidError(`backup ${archive} is not the archive its metadata describes (${bytes} bytes, expected ${meta.archive.bytes}, or another sha256): it is truncated or changed`,
      'use an intact copy of the backup; nothing was changed');
  }
  return meta;
}
