import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('recommendations', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.timestamp('snapshot_time', { useTz: true }).notNullable();
    t.uuid('ticker_id').notNullable().references('id').inTable('tickers').onDelete('CASCADE');
    t.date('recommendation_date').notNullable();
    t.specificType('direction', 'recommendation_direction').notNullable();
    t.specificType('action', 'recommendation_action').notNullable();
    t.decimal('confidence', 4, 3).checkBetween([0, 1], 'recommendations_confidence_check');
    t.text('justification');
    t.decimal('entry_price_target', 12, 4);
    t.decimal('stop_loss', 12, 4);
    t.decimal('profit_target', 12, 4);
    t.decimal('risk_reward_ratio', 6, 2);
    t.decimal('option_strike', 12, 4);
    t.date('option_expiration');
    t.specificType('option_type', 'option_type');
    t.specificType('option_strategy', 'option_strategy');
    t.specificType('status', 'recommendation_status').notNullable().defaultTo('active');
    t.string('model_version', 50);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.raw('now()'));
    // No cascade: a snapshot that a recommendation rests on is not deleted under it.
    t.foreign(['snapshot_time', 'ticker_id']).references(['time', 'ticker_id']).inTable('daily_snapshots');
    // Each foreign key is covered by an index leading with its columns.
    t.index(['ticker_id', 'recommendation_date']);
    t.index(['snapshot_time', 'ticker_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('recommendations');
}
