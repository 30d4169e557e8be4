import type { Knex } from 'knex';

// The Docker image has it in template1 already; reset creates databases from template0.
export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE EXTENSION IF NOT EXISTS timescaledb');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP EXTENSION IF EXISTS timescaledb');
}
