// Renders a live schema for people: as SQL (db/schema.sql) and as a Mermaid ER diagram
// (docs/schema.md). Both are deterministic: the same schema gives the same bytes.
import type { Client } from 'pg';
import type { TableContract } from '../../../db/contract';
import { AppliedMigration, LiveSchema, readAppliedMigrations, readSchema } from './introspect';
import { describeConfig, policyItem } from './drift';
import { identQuoter, schemaStatements } from './statements';

export { identQuoter, schemaStatements };

const byName = <T extends { name: string }>(items: T[]) => [...items].sort((a, b) => a.name.localeCompare(b.name));
const isForeignKey = (def: string) => def.startsWith('FOREIGN KEY');

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
