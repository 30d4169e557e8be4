import type { Knex } from 'knex';

// The Docker image has it in template1 already; reset creates databases from template0.
// On a managed server (Timescale Cloud) the platform installed it already: IF NOT EXISTS
// leaves that one, and its owner, as they are.
export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE EXTENSION IF NOT EXISTS timescaledb');
}

// Edited after release (issue 10), because the drop was wrong on two kinds of server; the up is
// unchanged, and a database that applied the earlier file still verifies (FORMER_CHECKSUMS in
// db/migrationSource.ts). Rolling back leaves the extension installed:
// - on a managed server the platform installed and owns it: the drop failed, failing the whole rollback;
// - once dropped, every backend that had used the database keeps its library loaded, and
//   CREATE EXTENSION fails there ("has already been loaded with another version"); behind a
//   transaction pooler the next migrate runs on such a backend.
export async function down(): Promise<void> {
  // Nothing to undo that is the migrations' own.
}
