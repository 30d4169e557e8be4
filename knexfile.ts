// Environment -> connection and migration settings, in one place.
// The knex CLI reads the default export (`npx knex migrate:latest --env test`);
// the scripts call knexConfig() so that they and the CLI can never disagree.
import type { Knex } from 'knex';
import { escapeIdentifier } from 'pg';
import { loadDotEnv } from './scripts/lib/dotenv';
import { CONNECT_TIMEOUT_MS, workingConfig } from './scripts/lib/ssl';
// Knex's bookkeeping tables live in their own schema, so that `public` holds exactly the MVP tables.
import { MIGRATIONS_SCHEMA, MIGRATIONS_TABLE, MigrationFiles } from './db/migrationSource';

export const ENVIRONMENTS = ['development', 'test', 'production'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

// Match docker-compose.yml and `npm run db:up`. Production has no default: it needs DATABASE_URL.
export const DEFAULT_URLS: Record<Environment, string | undefined> = {
  development: 'postgres://kapman:kapman@localhost:5432/kapman_dev',
  test: 'postgres://kapman:kapman@localhost:5432/kapman_test',
  production: undefined,
};

// An unreachable server fails within this, not after a TCP hang (defined beside the connections).
export { CONNECT_TIMEOUT_MS };

export function knexConfig(env: Environment, databaseUrl = process.env.DATABASE_URL): Knex.Config {
  const connectionString = databaseUrl || DEFAULT_URLS[env];
  return {
    client: 'pg',
    // The URL read as libpq reads it, never handed to the driver as a string (scripts/lib/ssl.ts).
    connection: connectionString
      ? () => workingConfig(connectionString) as Promise<Knex.PgConnectionConfig>
      : () => {
        // Never fall back to libpq's defaults (PGHOST, a local socket): say what is missing.
        throw new Error(`the ${env} environment has no default database: set DATABASE_URL`);
      },
    pool: {
      min: 0,
      max: 4,
      // Knex does not create its migrations schema itself; every pooled connection
      // makes sure it exists (a no-op once it does). A concurrent twin may win the race.
      afterCreate(conn: { query: (sql: string, cb: (err?: Error & { code?: string }) => void) => void }, done: (err?: Error) => void) {
        conn.query(`CREATE SCHEMA IF NOT EXISTS ${escapeIdentifier(MIGRATIONS_SCHEMA)}`, (err) => {
          const raced = err && (err.code === '23505' || err.code === '42P06');
          done(raced ? undefined : err);
        });
      },
    },
    migrations: {
      // The TypeScript files of db/migrations, in file-name order (db/migrationSource.ts).
      migrationSource: new MigrationFiles(),
      schemaName: MIGRATIONS_SCHEMA,
      tableName: MIGRATIONS_TABLE,
    },
  };
}

// The knex CLI calls this; the scripts read .env themselves (where --env-file may name another file).
export default function knexfile(): Record<Environment, Knex.Config> {
  loadDotEnv(__dirname);
  return {
    development: knexConfig('development'),
    test: knexConfig('test'),
    production: knexConfig('production'),
  };
}
