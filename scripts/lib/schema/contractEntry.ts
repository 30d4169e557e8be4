// The contract entries for what a live database has and db/contract.ts lacks or has otherwise,
// written as the contract writes them, for a person to review and paste: nothing writes
// contract.ts by itself. db:verify prints them under its differences.
import type { ColumnContract, HypertableContract, PolicyContract, TableContract } from '../../../db/contract';
import type { Difference } from './drift';
import type { LiveSchema } from './introspect';

/** A string as TypeScript source: one line in quotes, or a template literal where it spans lines. */
export function str(text: string): string {
  if (text.includes('\n')) return `\u0060${text.replace(/[\\\u0060]|\$\{/g, (m) => `\\${m}`)}\u0060`;
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
const key = (name: string) => (/^[A-Za-z_$][\w$]*$/.test(name) ? name : str(name));

/** A column as contract.ts writes it: col(name, type[, notNull[, default]]), spread into an object where it has more. */
function column(c: ColumnContract): string {
  const args = [str(c.name), str(c.type)];
  if (c.notNull || c.default !== undefined) args.push(String(c.notNull));
  if (c.default !== undefined) args.push(str(c.default));
  const more = [c.generated === undefined ? '' : `generated: ${str(c.generated)}`, c.identity === undefined ? '' : `identity: ${str(c.identity)}`,
    c.options === undefined ? '' : `options: [${c.options.map(str).join(', ')}]`,
    c.identitySequence === undefined ? '' : `identitySequence: ${str(c.identitySequence)}`].filter(Boolean);
  return more.length ? `{ ...col(${args.join(', ')}), ${more.join(', ')} }` : `col(${args.join(', ')})`;
}

const record = (items: Record<string, string>, indent: string) => Object.keys(items).sort().map((k) => `${indent}${key(k)}: ${str(items[k])},`);

/** A whole table entry, indented for CONTRACT.tables. */
export function tableEntry(t: TableContract): string {
  const optional = (name: string, items?: Record<string, string>) => (items ? [`      ${name}: {`, ...record(items, '        '), '      },'] : []);
  return [
    '    {',
    `      name: ${str(t.name)},`,
    '      columns: [',
    ...t.columns.map((c) => `        ${column(c)},`),
    '      ],',
    '      constraints: {',
    ...record(t.constraints, '        '),
    '      },',
    '      indexes: {',
    ...record(t.indexes, '        '),
    '      },',
    ...optional('triggers', t.triggers),
    ...(t.rowSecurity ? [`      rowSecurity: ${str(t.rowSecurity)},`] : []),
    ...optional('rowPolicies', t.rowPolicies),
    '    },',
  ].join('\n');
}

function hypertable(h: HypertableContract): string {
  const parts = [`table: ${str(h.table)}`, `timeColumn: ${str(h.timeColumn)}`, `chunkInterval: ${str(h.chunkInterval)}`];
  if (h.dimensions) parts.push(`dimensions: [${h.dimensions.map(str).join(', ')}]`);
  if (h.compression) parts.push(`compression: { segmentBy: ${str(h.compression.segmentBy)}, orderBy: ${str(h.compression.orderBy)} }`);
  if (h.integerNow) parts.push(`integerNow: ${str(h.integerNow)}`);
  if (h.tablespaces) parts.push(`tablespaces: [${h.tablespaces.map(str).join(', ')}]`);
  return `{ ${parts.join(', ')} }`;
}

function policy(p: PolicyContract): string {
  const config = Object.entries(p.config).map(([k, v]) => `${key(k)}: ${typeof v === 'string' ? str(v) : JSON.stringify(v)}`).join(', ');
  const parts = [...(p.on === undefined ? [] : [`on: ${str(p.on)}`]), `kind: ${str(p.kind)}`, `config: { ${config} }`, `schedule: ${str(p.schedule)}`];
  if (p.paused) parts.push('paused: true');
  if (p.maxRuntime !== undefined) parts.push(`maxRuntime: ${str(p.maxRuntime)}`);
  if (p.maxRetries !== undefined) parts.push(`maxRetries: ${p.maxRetries}`);
  if (p.retryPeriod !== undefined) parts.push(`retryPeriod: ${str(p.retryPeriod)}`);
  if (p.fixedSchedule !== undefined) parts.push(`fixedSchedule: ${p.fixedSchedule}`);
  if (p.check !== undefined) parts.push(`check: ${str(p.check)}`);
  return `{ ${parts.join(', ')} }`;
}

/** The contract's field a difference of the `database` group belongs to, by the item's first words. */
const FIELDS: Array<[RegExp, keyof LiveSchema]> = [
  [/^extension /, 'extensions'], [/^schema /, 'schemas'], [/^enum /, 'enums'], [/^(hypertable|compression of) /, 'hypertables'],
  [/ policy( on |$| #)/, 'policies'], [/^view /, 'views'], [/^materialized view /, 'materializedViews'],
  [/^continuous aggregate /, 'continuousAggregates'], [/^function /, 'functions'], [/^sequence /, 'sequences'],
  [/^setting /, 'settings'], [/^grant on /, 'grants'], [/^comment on /, 'comments'],
];
/** The name a record field's difference is about: `view v_x` -> `v_x`. */
const PREFIX = /^(enum|view|materialized view|continuous aggregate|function|sequence|setting|grant on|comment on) /;

/**
 * The entries, as the live database has them, for every table and every other part of the
 * contract where it and the database differ; undefined where they do not, or while a migration
 * is pending (the database is not yet what the migrations build). What the database lacks has no entry.
 */
export function contractEntries(live: LiveSchema, differences: Difference[]): string | undefined {
  if (differences.some((d) => d.group === 'migrations' && d.kind === 'missing')) return undefined;
  const schema = differences.filter((d) => d.group !== 'migrations' && d.group !== 'ownership' && !(d.item === 'table' && d.kind === 'missing'));
  const tables = new Set(schema.filter((d) => d.group !== 'database').map((d) => d.group));
  const fields = new Map<keyof LiveSchema, Set<string>>();
  for (const d of schema.filter((x) => x.group === 'database')) {
    const field = FIELDS.find(([pattern]) => pattern.test(d.item))?.[1];
    if (field) (fields.get(field) ?? fields.set(field, new Set()).get(field)!).add(d.item.replace(PREFIX, ''));
  }
  const parts: string[] = [];
  for (const t of live.tables.filter((x) => tables.has(x.name))) parts.push(`// in tables: [...]\n${tableEntry(t)}`);
  const whole = (field: 'extensions' | 'schemas', items: string[]) => parts.push(`  ${field}: [${items.map(str).join(', ')}],`);
  const some = <T>(field: keyof LiveSchema, items: Record<string, T>, show: (v: T) => string) => {
    const names = [...fields.get(field)!].filter((n) => n in items).sort();
    if (names.length) parts.push(`// in ${field}: {...}\n${names.map((n) => `    ${key(n)}: ${show(items[n])},`).join('\n')}`);
  };
  for (const field of fields.keys()) {
    if (field === 'extensions' || field === 'schemas') whole(field, live[field]);
    else if (field === 'hypertables') parts.push(`  hypertables: [${live.hypertables.map(hypertable).join(', ')}],`);
    else if (field === 'policies') parts.push(`  policies: [\n${live.policies.map((p) => `    ${policy(p)},`).join('\n')}\n  ],`);
    else if (field === 'enums') some(field, live.enums, (labels) => `[${labels.map(str).join(', ')}]`);
    else if (field === 'continuousAggregates') some(field, live.continuousAggregates, (c) => `{ query: ${str(c.query)}, materializedOnly: ${c.materializedOnly} }`);
    else some(field, live[field] as Record<string, string>, str);
  }
  return parts.length ? parts.join('\n') : undefined;
}
