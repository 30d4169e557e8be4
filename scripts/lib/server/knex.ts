// The knex settings of the tools and of the knex CLI alike (knexfile.ts reads them from here):
// the environments, their default URLs, and the pool and migrator every run of knex uses.
import type { Knex } from 'knex';
import { escapeIdentifier } from 'pg';
// Knex's bookkeeping tables live in their own schema, so that `public` holds exactly the MVP tables.
import { MIGRATIONS_SCHEMA, MIGRATIONS_TABLE, MigrationFiles } from '../../../db/migrationSource';
import type { ConnectionParams } from './connectionUrl';
import { knexQueryable, prepareSession, prepareTransaction, Queryable, SessionOptions } from './session';
import { workingConfig } from './ssl';

export const ENVIRONMENTS = ['development', 'test', 'production'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

// Match docker-compose.yml and `npm run db:up`. Production has no default: it needs DATABASE_URL.
export const DEFAULT_URLS: Record<Environment, string | undefined> = {
  development: 'postgres://kapman:kapman@localhost:5432/kapman_dev',
  test: 'postgres://kapman:kapman@localhost:5432/kapman_test',
  production: undefined,
};

/** Knex's settings for the connection `connection` (the URL as read once; none: the environment has no database). */
export function knexConfig(env: Environment, connection: ConnectionParams | undefined, session: SessionOptions = {}): Knex.Config {
  return {
    client: 'pg',
    // The URL read as libpq reads it, never handed to the driver as a string (ssl.ts).
    connection: connection
      ? () => workingConfig(connection) as Promise<Knex.PgConnectionConfig>
      : () => {
        // Never fall back to libpq's defaults (PGHOST, a local socket): say what is missing.
        throw new Error(`the ${env} environment has no default database: set DATABASE_URL`);
      },
    pool: {
      min: 0,
      max: 4,
      // Migrations run as the database's owner, so the owner owns what they build.
      // Knex does not create its migrations schema itself; every pooled connection
      // makes sure it exists (a no-op once it does). A concurrent twin may win the race.
      afterCreate(conn: Queryable, done: (err?: Error) => void) {
        prepareSession(conn, { asOwner: true, ...session })
          .then(() => conn.query(`CREATE SCHEMA IF NOT EXISTS ${escapeIdentifier(MIGRATIONS_SCHEMA)}`))
          .then(() => done(), (err: Error & { code?: string }) => done(err.code === '23505' || err.code === '42P06' ? undefined : err));
      },
    },
    migrations: <Knex.MigratorConfig & { beforeEach(trx: Knex): Promise<void> }>{ // knex calls beforeEach; its types omit it
      // The TypeScript files of db/migrations, in file-name order (db/migrationSource.ts).
      migrationSource: new MigrationFiles(),
      // Every migration's transaction starts with the setup (the knex CLI's too): behind a pooler it is the only one.
      beforeEach: (trx: Knex) => prepareTransaction(knexQueryable(trx), { asOwner: true, ...session }),
      schemaName: MIGRATIONS_SCHEMA,
      tableName: MIGRATIONS_TABLE,
    },
  };
}
