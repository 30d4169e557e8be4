// Where migrations come from: the TypeScript files of db/migrations, in file-name order.
// Both the knex CLI (through knexfile.ts) and the scripts use this one source, so every
// path that applies a migration also reports its file and duration when asked to.
import fs from 'fs';
import path from 'path';
import type { Knex } from 'knex';

export const MIGRATIONS_DIR = path.join(__dirname, 'migrations');

export interface MigrationReporter {
  started(name: string, direction: 'up' | 'down'): void;
  finished(name: string, direction: 'up' | 'down', ms: number): void;
}

/** A migration that failed, naming its file; the cause is the driver's error. */
export class MigrationFileError extends Error {
  constructor(readonly migration: string, readonly direction: 'up' | 'down', readonly cause: unknown) {
    super(`${direction} of migration ${migration} failed: ${(cause as Error)?.message ?? cause}`);
  }
}

interface MigrationModule {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
  config?: Knex.MigratorConfig;
}

export class MigrationFiles implements Knex.MigrationSource<string> {
  constructor(readonly directory = MIGRATIONS_DIR, readonly reporter?: MigrationReporter) {}

  async getMigrations(): Promise<string[]> {
    return fs.readdirSync(this.directory).filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith('.d.ts')).sort();
  }

  getMigrationName(file: string): string {
    return file;
  }

  async getMigration(file: string): Promise<Knex.Migration> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const module: MigrationModule = require(path.join(this.directory, file));
    const run = (direction: 'up' | 'down') => async (knex: Knex) => {
      this.reporter?.started(file, direction);
      const started = process.hrtime.bigint();
      try {
        await module[direction](knex);
      } catch (err) {
        throw new MigrationFileError(file, direction, err);
      }
      this.reporter?.finished(file, direction, Number(process.hrtime.bigint() - started) / 1e6);
    };
    return { up: run('up'), down: run('down'), ...(module.config ? { config: module.config } : {}) };
  }
}
