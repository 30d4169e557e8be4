import type { Knex } from 'knex';

// Knex's builder makes an enum only as a side effect of one column; these are shared
// by several tables, so they are made once here. Values are in their sort order.
const ENUMS: Array<[name: string, values: string[]]> = [
  ['option_type', ['C', 'P']],
  ['recommendation_direction', ['LONG', 'SHORT', 'NEUTRAL']],
  ['recommendation_action', ['BUY', 'SELL', 'HOLD', 'HEDGE']],
  ['option_strategy', ['LONG_CALL', 'LONG_PUT', 'CSP', 'VERTICAL_SPREAD']],
  ['recommendation_status', ['active', 'closed', 'expired']],
  ['outcome_status', ['WIN', 'LOSS', 'NEUTRAL']],
];

export async function up(knex: Knex): Promise<void> {
  for (const [name, values] of ENUMS) {
    // DDL takes no bind parameters: knex quotes the name (??) and the values (?) inline.
    const sql = knex.raw(`CREATE TYPE ?? AS ENUM (${values.map(() => '?').join(', ')})`, [name, ...values]).toQuery();
    await knex.raw(sql);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const [name] of [...ENUMS].reverse()) await knex.raw('DROP TYPE IF EXISTS ??', [name]);
}
