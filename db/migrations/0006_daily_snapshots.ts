import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('daily_snapshots', (t) => {
    t.timestamp('time', { useTz: true }).notNullable();
    t.uuid('ticker_id').notNullable().references('id').inTable('tickers').onDelete('CASCADE');
    t.string('wyckoff_phase', 1).checkIn(['A', 'B', 'C', 'D', 'E'], 'daily_snapshots_wyckoff_phase_check');
    t.decimal('phase_score', 6, 3);
    t.decimal('phase_confidence', 4, 3).checkBetween([0, 1], 'daily_snapshots_phase_confidence_check');
    t.specificType('events_detected', 'text[]');
    t.string('primary_event', 20);
    t.jsonb('events_json');
    t.integer('bc_score').checkBetween([0, 28], 'daily_snapshots_bc_score_check');
    t.integer('spring_score').checkBetween([0, 12], 'daily_snapshots_spring_score_check');
    t.decimal('composite_score', 6, 2);
    t.jsonb('technical_indicators_json');
    t.jsonb('dealer_metrics_json');
    t.jsonb('volatility_metrics_json');
    t.jsonb('price_metrics_json');
    t.string('model_version', 50);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.raw('now()'));
    t.primary(['time', 'ticker_id']);
    // Covers the foreign key: the primary key leads with time, not ticker_id.
    t.index(['ticker_id', 'time']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('daily_snapshots');
}
