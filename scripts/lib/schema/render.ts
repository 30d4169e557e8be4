// Renders a live schema for people: as SQL (db/schema.sql) and as a Mermaid ER diagram
// (docs/schema.md). Both are deterministic: the same schema gives the same bytes.
import type { Client } from 'pg';
import type { TableContract } from '../../../db/contract';
import { AppliedMigration, LiveSchema, readAppliedMigrations, readSchema } from './introspect';

/** PostgreSQL's own quote_ident for every name, so the text quotes exactly as pg_dump would. */
export async function identQuoter(client: Client, live: LiveSchema): Promise<(name: string) => string> {
  const names = [...live.extensions, ...Object.keys(live.enums), ...live.tables.flatMap((t) => [t.name, ...t.columns.map((c) => c.name),
    ...Object.keys(t.constraints), ...Object.keys(t.indexes)])];
  const { rows } = await client.query('SELECT n, quote_ident(n) AS q FROM unnest($1::text[]) n', [names]);
  const quoted = new Map(rows.map((r) => [r.n as string, r.q as string]));
  return (name) => quoted.get(name) ?? client.escapeIdentifier(name);
}

const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;
const byName = <T extends { name: string }>(items: T[]) => [...items].sort((a, b) => a.name.localeCompare(b.name));
const isForeignKey = (def: string) => def.startsWith('FOREIGN KEY');

/**
 * The statements that build `live` on an empty database, in groups and in an order that works:
 * extensions, enum types, each table with its keys and indexes, the foreign keys, the hypertables.
 * Each index is its own statement, so a hypertable is made without its default ones.
 */
export function schemaStatements(live: LiveSchema, q: (name: string) => string): string[][] {
  const groups: string[][] = [live.extensions.map((e) => `CREATE EXTENSION IF NOT EXISTS ${q(e)}`)];
  groups.push(Object.entries(live.enums).sort(([a], [b]) => a.localeCompare(b))
    .map(([name, values]) => `CREATE TYPE public.${q(name)} AS ENUM (${values.map(literal).join(', ')})`));
  const tables = byName(live.tables);
  for (const t of tables) {
    const columns = t.columns.map((c) => `    ${q(c.name)} ${c.type}${c.default === undefined ? '' : ` DEFAULT ${c.default}`}${c.notNull ? ' NOT NULL' : ''}`);
    groups.push([
      `CREATE TABLE public.${q(t.name)} (\n${columns.join(',\n')}\n)`,
      ...sortedEntries(t.constraints).filter(([, d]) => !isForeignKey(d)).map(([name, def]) => `ALTER TABLE ONLY public.${q(t.name)} ADD CONSTRAINT ${q(name)} ${def}`),
      ...sortedEntries(t.indexes).filter(([n]) => !(n in t.constraints)).map(([name, def]) => {
        const unique = def.startsWith('UNIQUE ');
        return `CREATE ${unique ? 'UNIQUE ' : ''}INDEX ${q(name)} ON public.${q(t.name)} USING ${def.replace(/^UNIQUE /, '')}`;
      }),
    ]);
  }
  groups.push(tables.flatMap((t) => sortedEntries(t.constraints).filter(([, d]) => isForeignKey(d))
    .map(([name, def]) => `ALTER TABLE ONLY public.${q(t.name)} ADD CONSTRAINT ${q(name)} ${def}`)));
  groups.push(live.hypertables.map((h) => `SELECT create_hypertable('public.${q(h.table)}', by_range(${literal(h.timeColumn)}, INTERVAL ${literal(h.chunkInterval)}), create_default_indexes => false)`));
  return groups.filter((g) => g.length > 0);
}

export function renderSchemaSql(live: LiveSchema, applied: AppliedMigration[], q: (name: string) => string): string {
  const out: string[] = [
    '-- KapMan MVP schema: what the migrations build, written by `npm run db:schema:dump`.',
    '-- Do not edit: a test fails when the migrations and this file disagree. For review, not for loading.',
  ];
  for (const group of schemaStatements(live, q)) out.push('', ...group.map((sql) => `${sql};`));
  for (const o of live.others) out.push(`-- also in public: ${o}`);
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

export function renderErd(live: LiveSchema): string {
  const hyper = new Map(live.hypertables.map((h) => [h.table, h]));
  const lines = ['erDiagram'];
  for (const t of byName(live.tables)) {
    lines.push(`    ${t.name} {`);
    for (const c of t.columns) {
      const h = hyper.get(t.name);
      const notes = [mermaidType(c.type) === c.type ? '' : c.type, c.notNull ? 'not null' : '', c.default === undefined ? '' : `default ${c.default}`,
        h?.timeColumn === c.name ? `hypertable time column, ${h.chunkInterval} chunks` : ''].filter(Boolean).join(', ');
      const marks = keyMarks(t, c.name);
      const comment = notes ? ` "${notes.replace(/"/g, "'")}"` : '';
      lines.push(`        ${mermaidType(c.type)} ${c.name}${marks ? ` ${marks}` : ''}${comment}`);
    }
    lines.push('    }');
  }
  for (const t of byName(live.tables)) {
    for (const [, def] of sortedEntries(t.constraints).filter(([, d]) => isForeignKey(d))) {
      const m = def.match(/^FOREIGN KEY \(([^)]*)\) REFERENCES (\w+)\(/);
      if (m) lines.push(`    ${m[2]} ||--o{ ${t.name} : "${m[1].replace(/"/g, '')}"`);
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
    '',
    '```mermaid',
    renderErd(live),
    '```',
    '',
  ].join('\n');
}
