// The contract entries for what a live database has and db/contract.ts lacks or has otherwise,
// written as the contract writes them, for a person to review and paste: nothing writes
// contract.ts by itself. db:verify prints them under its differences.
import type { ColumnContract, HypertableContract, TableContract } from '../../../db/contract';
import type { Difference } from './drift';
import type { LiveSchema } from './introspect';

const str = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const key = (name: string) => (/^[A-Za-z_$][\w$]*$/.test(name) ? name : str(name));

/** A column as contract.ts writes it: col(name, type[, notNull[, default]]). */
function column(c: ColumnContract): string {
  const args = [str(c.name), str(c.type)];
  if (c.notNull || c.default !== undefined) args.push(String(c.notNull));
  if (c.default !== undefined) args.push(str(c.default));
  return `col(${args.join(', ')})`;
}

/** A whole table entry, indented for CONTRACT.tables. */
export function tableEntry(t: TableContract): string {
  const record = (items: Record<string, string>) => Object.keys(items).sort().map((k) => `        ${key(k)}: ${str(items[k])},`);
  return [
    '    {',
    `      name: ${str(t.name)},`,
    '      columns: [',
    ...t.columns.map((c) => `        ${column(c)},`),
    '      ],',
    '      constraints: {',
    ...record(t.constraints),
    '      },',
    '      indexes: {',
    ...record(t.indexes),
    '      },',
    '    },',
  ].join('\n');
}

const hypertablesEntry = (h: HypertableContract[]) =>
  `  hypertables: [${h.map((x) => `{ table: ${str(x.table)}, timeColumn: ${str(x.timeColumn)}, chunkInterval: ${str(x.chunkInterval)} }`).join(', ')}],`;

/**
 * The entries, as the live database has them, for every table, enum or the hypertables where it
 * and the contract differ; undefined where they do not, or while a migration is pending (the
 * database is not yet what the migrations build). A table the database lacks has no entry.
 */
export function contractEntries(live: LiveSchema, differences: Difference[]): string | undefined {
  if (differences.some((d) => d.group === 'migrations' && d.kind === 'missing')) return undefined;
  const schema = differences.filter((d) => d.group !== 'migrations' && d.group !== 'ownership' && !(d.item === 'table' && d.kind === 'missing'));
  const tables = new Set(schema.filter((d) => d.group !== 'database').map((d) => d.group));
  const enums = new Set(schema.filter((d) => d.group === 'database' && d.item.startsWith('enum ')).map((d) => d.item.slice('enum '.length)));
  const hypertables = schema.some((d) => d.group === 'database' && d.item.startsWith('hypertable '));
  const parts: string[] = [];
  for (const t of live.tables.filter((x) => tables.has(x.name))) parts.push(`// in tables: [...]\n${tableEntry(t)}`);
  if (enums.size) parts.push(`// in enums: {...}\n${[...enums].map((e) => `    ${key(e)}: [${live.enums[e].map(str).join(', ')}],`).join('\n')}`);
  if (hypertables) parts.push(hypertablesEntry(live.hypertables));
  return parts.length ? parts.join('\n') : undefined;
}
