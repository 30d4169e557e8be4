import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('recommendation_outcomes', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('recommendation_id').notNullable().references('id').inTable('recommendations').onDelete('CASCADE').index();
    t.date('evaluation_date').notNullable();
    t.integer('evaluation_window_days');
    t.decimal('entry_price_actual', 12, 4);
    t.decimal('exit_price_actual', 12, 4);
    t.decimal('high_price_during_window', 12, 4);
    t.decimal('low_price_during_window', 12, 4);
    t.integer('days_held');
    t.boolean('direction_correct');
    t.decimal('predicted_confidence', 4, 3);
    t.decimal('directional_brier', 6, 4);
    t.decimal('actual_return_pct', 8, 4);
    t.boolean('hit_profit_target');
    t.boolean('hit_stop_loss');
    t.specificType('outcome_status', 'outcome_status');
    t.text('notes');
    t.timestamp('evaluated_at', { useTz: true }).notNullable().defaultTo(knex.raw('now()'));
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('recommendation_outcomes');
}
