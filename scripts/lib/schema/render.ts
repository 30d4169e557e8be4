// Renders a live schema for people: as SQL (db/schema.sql) and as a Mermaid ER diagram
// (docs/schema.md). Both are deterministic: the same schema gives the same bytes.
import type { Client } from 'pg';
import type { PolicyContract, TableContract } from '../../../db/contract';
import { AppliedMigration, LiveSchema, readAppliedMigrations, readSchema } from './introspect';
import { sqlName } from './read/scope';
import { describeConfig, policyItem } from './drift';

/** PostgreSQL's own quote_ident for every name, so the text quotes exactly as pg_dump would. */
export async function identQuoter(client: Client, live: LiveSchema): Promise<(name: string) => string> {
  const parts = (name: string) => name.split('.');
  const names = ['public', ...live.extensions, ...live.schemas, ...Object.keys(live.enums).flatMap(parts), ...Object.keys(live.views).flatMap(parts),
    ...Object.keys(live.materializedViews).flatMap(parts), ...Object.keys(live.continuousAggregates).flatMap(parts),
    ...live.tables.flatMap((t) => [...parts(t.name), ...t.columns.map((c) => c.name), ...Object.keys(t.constraints), ...Object.keys(t.indexes)])];
  const { rows } = await client.query('SELECT n, quote_ident(n) AS q FROM unnest($1::text[]) n', [names]);
  const quoted = new Map(rows.map((r) => [r.n as string, r.q as string]));
  return (name) => quoted.get(name) ?? client.escapeIdentifier(name);
}

const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;
const byName = <T extends { name: string }>(items: T[]) => [...items].sort((a, b) => a.name.localeCompare(b.name));
const isForeignKey = (def: string) => def.startsWith('FOREIGN KEY');
/** A view's query as pg_get_viewdef gives it, without its leading space and final semicolon. */
const query = (def: string) => def.trim().replace(/;$/, '');

/** The statement that makes a TimescaleDB job, with its configuration as named arguments (config, for add_job). */
function policyStatement(p: PolicyContract, q: (name: string) => string): string {
  const value = (v: unknown) => (typeof v === 'string' ? `INTERVAL ${literal(v)}` : String(v));
  const named = (keys: string[]) => keys.filter((k) => k in p.config).map((k) => `${k} => ${value(p.config[k])}`);
  const on = p.on === undefined ? '' : literal(sqlName(p.on, q));
  const schedule = `schedule_interval => INTERVAL ${literal(p.schedule)}`;
  const made = {
    retention: () => `SELECT add_retention_policy(${[on, ...named(['drop_after', 'drop_created_before']), schedule].join(', ')})`,
    compression: () => `SELECT add_compression_policy(${[on, ...named(['compress_after', 'compress_created_before']), schedule].join(', ')})`,
    refresh: () => `SELECT add_continuous_aggregate_policy(${[on, ...named(['start_offset', 'end_offset']), schedule].join(', ')})`,
    reorder: () => `SELECT add_reorder_policy(${on}, index_name => ${literal(String(p.config.index_name))})`,
  }[p.kind];
  const statement = made?.() ?? `SELECT add_job(${literal(p.kind)}, INTERVAL ${literal(p.schedule)}, config => ${literal(JSON.stringify(p.config))}::jsonb)`;
  // Each add_* returns the job's id.
  return p.paused ? `SELECT alter_job(${statement.replace(/^SELECT /, '')}, scheduled => false)` : statement;
}

/**
 * The statements that build `live` on an empty database, in groups and in an order that works:
 * extensions, schemas, enum types, each table with its keys and indexes, the foreign keys, the
 * hypertables with their compression settings, views and continuous aggregates, the policies.
 * Each index is its own statement, so a hypertable is made without its default ones.
 */
export function schemaStatements(live: LiveSchema, q: (name: string) => string): string[][] {
  const groups: string[][] = [live.extensions.map((e) => `CREATE EXTENSION IF NOT EXISTS ${q(e)}`)];
  groups.push(live.schemas.map((s) => `CREATE SCHEMA ${q(s)}`));
  groups.push(Object.entries(live.enums).sort(([a], [b]) => a.localeCompare(b))
    .map(([name, values]) => `CREATE TYPE ${sqlName(name, q)} AS ENUM (${values.map(literal).join(', ')})`));
  const tables = byName(live.tables);
  for (const t of tables) {
    const table = sqlName(t.name, q);
    const columns = t.columns.map((c) => `    ${q(c.name)} ${c.type}${c.default === undefined ? '' : ` DEFAULT ${c.default}`}${c.notNull ? ' NOT NULL' : ''}`);
    groups.push([
      `CREATE TABLE ${table} (\n${columns.join(',\n')}\n)`,
      ...sortedEntries(t.constraints).filter(([, d]) => !isForeignKey(d)).map(([name, def]) => `ALTER TABLE ONLY ${table} ADD CONSTRAINT ${q(name)} ${def}`),
      ...sortedEntries(t.indexes).filter(([n]) => !(n in t.constraints)).map(([name, def]) => {
        const unique = def.startsWith('UNIQUE ');
        return `CREATE ${unique ? 'UNIQUE ' : ''}INDEX ${q(name)} ON ${table} USING ${def.replace(/^UNIQUE /, '')}`;
      }),
    ]);
  }
  groups.push(tables.flatMap((t) => sortedEntries(t.constraints).filter(([, d]) => isForeignKey(d))
    .map(([name, def]) => `ALTER TABLE ONLY ${sqlName(t.name, q)} ADD CONSTRAINT ${q(name)} ${def}`)));
  groups.push(live.hypertables.flatMap((h) => [
    `SELECT create_hypertable(${literal(sqlName(h.table, q))}, by_range(${literal(h.timeColumn)}, INTERVAL ${literal(h.chunkInterval)}), create_default_indexes => false)`,
    ...(h.compression ? [`ALTER TABLE ${sqlName(h.table, q)} SET (${['timescaledb.compress',
      ...(h.compression.segmentBy ? [`timescaledb.compress_segmentby = ${literal(h.compression.segmentBy)}`] : []),
      ...(h.compression.orderBy ? [`timescaledb.compress_orderby = ${literal(h.compression.orderBy)}`] : [])].join(', ')})`] : []),
  ]));
  groups.push([
    ...sortedEntries(live.views).map(([name, def]) => `CREATE VIEW ${sqlName(name, q)} AS ${query(def)}`),
    ...sortedEntries(live.materializedViews).map(([name, def]) => `CREATE MATERIALIZED VIEW ${sqlName(name, q)} AS ${query(def)} WITH NO DATA`),
    ...Object.entries(live.continuousAggregates).sort(([a], [b]) => a.localeCompare(b)).map(([name, c]) =>
      `CREATE MATERIALIZED VIEW ${sqlName(name, q)} WITH (timescaledb.continuous, timescaledb.materialized_only = ${c.materializedOnly}) AS ${query(c.query)} WITH NO DATA`),
  ]);
  groups.push(live.policies.map((p) => policyStatement(p, q)));
  return groups.filter((g) => g.length > 0);
}

export function renderSchemaSql(live: LiveSchema, applied: AppliedMigration[], q: (name: string) => string): string {
  const out: string[] = [
    '-- KapMan MVP schema: what the migrations build, written by `npm run db:schema:dump`.',
    '-- Do not edit: a test fails when the migrations and this file disagree. For review, not for loading.',
  ];
  for (const group of schemaStatements(live, q)) out.push('', ...group.map((sql) => `${sql};`));
  for (const o of live.others) out.push(`-- also: ${o}`);
  out.push('', '-- Migrations applied, with the sha256 of each file:');
  for (const m of applied) out.push(`-- ${m.name} ${m.sha256 ?? '(none recorded)'}`);
  return `${out.join('\n')}\n`;
}

/** db/schema.sql's text for a database the migrations built. */
export async function schemaSqlOf(c: Client): Promise<string> {
  const live = await readSchema(c);
  return renderSchemaSql(live, await readAppliedMigrations(c), await identQuoter(c, live));
}

function sortedEntries(record: Record<string, string>): Array<[string, string]> {
  return Object.entries(record).sort(([a], [b]) => a.localeCompare(b));
}

// Mermaid attribute types are single words: the SQL type's short name, the full one in the comment.
const SHORT_TYPES: Array<[RegExp, string]> = [
  [/^character varying.*/, 'varchar'], [/^timestamp with time zone$/, 'timestamptz'], [/^numeric.*/, 'numeric'],
  [/^text\[\]$/, 'text_array'], [/\s+/g, '_'],
];

function mermaidType(type: string): string {
  return SHORT_TYPES.reduce((t, [pattern, short]) => t.replace(pattern, short), type);
}

function keyMarks(t: TableContract, column: string): string {
  const columnsOf = (def: string) => (def.match(/^[A-Z ]+\(([^)]*)\)/)?.[1] ?? '').split(',').map((c) => c.trim().replace(/^"|"$/g, ''));
  const marks = new Set<string>();
  for (const def of Object.values(t.constraints)) {
    if (!columnsOf(def).includes(column)) continue;
    if (def.startsWith('PRIMARY KEY')) marks.add('PK');
    else if (isForeignKey(def)) marks.add('FK');
    else if (def.startsWith('UNIQUE')) marks.add('UK');
  }
  return ['PK', 'FK', 'UK'].filter((m) => marks.has(m)).join(', ');
}

/** A table as a Mermaid entity: a name outside `public` (`schema.table`) in quotes. */
const entity = (name: string) => (name.includes('.') ? `"${name}"` : name);

/** What the diagram says on a hypertable's time column: its chunks, its compression and its policies. */
function hypertableNote(live: LiveSchema, h: LiveSchema['hypertables'][number]): string {
  const policies = live.policies.filter((p) => p.on === h.table).map((p) => `${p.kind} policy (${describeConfig(p.config)}, every ${p.schedule})`);
  const compression = h.compression ? [`compressed by ${h.compression.segmentBy || 'nothing'} ordered by ${h.compression.orderBy || 'nothing'}`] : [];
  return [`hypertable time column, ${h.chunkInterval} chunks`, ...compression, ...policies].join('; ');
}

export function renderErd(live: LiveSchema): string {
  const hyper = new Map(live.hypertables.map((h) => [h.table, h]));
  const lines = ['erDiagram'];
  for (const t of byName(live.tables)) {
    lines.push(`    ${entity(t.name)} {`);
    for (const c of t.columns) {
      const h = hyper.get(t.name);
      const notes = [mermaidType(c.type) === c.type ? '' : c.type, c.notNull ? 'not null' : '', c.default === undefined ? '' : `default ${c.default}`,
        h?.timeColumn === c.name ? hypertableNote(live, h) : ''].filter(Boolean).join(', ');
      const marks = keyMarks(t, c.name);
      const comment = notes ? ` "${notes.replace(/"/g, "'")}"` : '';
      lines.push(`        ${mermaidType(c.type)} ${c.name}${marks ? ` ${marks}` : ''}${comment}`);
    }
    lines.push('    }');
  }
  for (const t of byName(live.tables)) {
    for (const [, def] of sortedEntries(t.constraints).filter(([, d]) => isForeignKey(d))) {
      const m = def.match(/^FOREIGN KEY \(([^)]*)\) REFERENCES ([\w.]+)\(/);
      if (m) lines.push(`    ${entity(m[2])} ||--o{ ${entity(t.name)} : "${m[1].replace(/"/g, '')}"`);
    }
  }
  return lines.join('\n');
}

/** docs/schema.md: the diagram, with the hypertables named for GitHub readers. */
export function renderSchemaDoc(live: LiveSchema): string {
  const hypertables = live.hypertables.map((h) => `\`${h.table}\` (on \`${h.timeColumn}\`, ${h.chunkInterval} chunks)`).join(', ');
  return [
    '# KapMan MVP schema',
    '',
    'Written by `npm run db:erd` from a database built by the migrations; a test fails when it is out of date.',
    `Hypertables: ${hypertables || 'none'}. Enum types: ${Object.keys(live.enums).sort().map((e) => `\`${e}\``).join(', ')}.`,
    ...[['Schemas besides public', live.schemas], ['Views', Object.keys(live.views)], ['Materialized views', Object.keys(live.materializedViews)],
      ['Continuous aggregates', Object.keys(live.continuousAggregates)],
      ['TimescaleDB policies', live.policies.map((p) => `${policyItem(p)} (${describeConfig(p.config)}, every ${p.schedule})`)]]
      .filter(([, names]) => names.length).map(([label, names]) => `${label}: ${(names as string[]).map((n) => `\`${n}\``).join(', ')}.`),
    '',
    '```mermaid',
    renderErd(live),
    '```',
    '',
  ].join('\n');
}
