import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('options_chains', (t) => {
    t.timestamp('time', { useTz: true }).notNullable();
    t.uuid('ticker_id').notNullable().references('id').inTable('tickers').onDelete('CASCADE');
    t.date('expiration_date').notNullable();
    t.decimal('strike_price', 12, 4).notNullable();
    t.specificType('option_type', 'option_type').notNullable();
    t.decimal('bid', 12, 4);
    t.decimal('ask', 12, 4);
    t.decimal('last', 12, 4);
    t.integer('volume');
    t.integer('open_interest');
    t.decimal('implied_volatility', 10, 6);
    t.decimal('delta', 10, 6);
    t.decimal('gamma', 10, 6);
    t.decimal('theta', 10, 6);
    t.decimal('vega', 10, 6);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.raw('now()'));
    t.primary(['time', 'ticker_id', 'expiration_date', 'strike_price', 'option_type']);
    // Covers the foreign key: the primary key leads with time, not ticker_id.
    t.index(['ticker_id', 'time']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('options_chains');
}
