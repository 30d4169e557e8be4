// The SQL that builds a schema the reader read, and the SQL that drops it again: a squash's
// baseline runs the one as its up and the other as its down, and db/schema.sql shows the first.
// Every object comes from the reader's picture of a database (LiveSchema), functions and
// triggers in the catalog's own words (pg_get_functiondef, pg_get_triggerdef). What it cannot
// make is named by `unmakeable`, never left out in silence.
import type { Client } from 'pg';
import type { ColumnContract, PolicyContract, TableContract } from '../../../db/contract';
import type { LiveSchema } from './introspect';
import { MAX_SEED_ROWS } from './read/data';
import { sqlName } from './read/scope';
import { INVALID_INDEX } from './read/tables';
import { JOB_DEFAULTS } from './read/timescale';

type Quote = (name: string) => string;

/** What the reader's LiveSchema does not carry but a baseline must make: the rows of a fresh build, and who owns what. */
export interface Extras {
  /** Per table, its rows as SQL literals in the order of its insertable columns (insertableColumns), from readSeedRows. */
  seed?: Record<string, string[][]>;
  /** `table public.x`, `function f(integer)`, … (misownedObjects' items) -> the role that owns it, where not the database's owner. */
  owners?: Record<string, string>;
  /** The role that ran the migrations (quoted): its default privileges are written for whichever role runs the baseline. */
  role?: string;
}

/** A baseline writes seed rows as INSERTs up to this many bytes of SQL: it is source code, read in review and kept in git. */
export const MAX_SEED_BYTES = 1_000_000;

/** PostgreSQL's own quote_ident for every name, so the text quotes exactly as pg_dump would. */
export async function identQuoter(client: Client, live: LiveSchema, extras: Extras = {}): Promise<(name: string) => string> {
  const parts = (name: string) => name.split('.');
  const named = (record: Record<string, unknown>) => Object.keys(record).flatMap((k) => parts(k.replace(/\(.*$/, '')));
  const names = ['public', ...live.extensions, ...live.schemas, ...named(live.enums), ...named(live.views), ...named(live.materializedViews),
    ...named(live.continuousAggregates), ...named(live.functions), ...named(live.sequences), ...Object.values(extras.owners ?? {}),
    ...Object.keys(live.sequences).map((s) => /, owned by (.*)$/.exec(live.sequences[s])?.[1] ?? '').flatMap(parts),
    ...live.tables.flatMap((t) => [...parts(t.name), ...t.columns.map((c) => c.name), ...Object.keys(t.constraints), ...Object.keys(t.indexes),
      ...Object.keys(t.triggers ?? {}), ...Object.keys(t.rowPolicies ?? {}), ...t.columns.map((c) => /^name (\S+),/.exec(c.identitySequence ?? '')?.[1] ?? '')]),
    ...Object.keys(live.settings)].filter(Boolean);
  const { rows } = await client.query('SELECT n, quote_ident(n) AS q FROM unnest($1::text[]) n', [names]);
  const quoted = new Map(rows.map((r) => [r.n as string, r.q as string]));
  return (name) => quoted.get(name) ?? client.escapeIdentifier(name);
}

const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;
const byName = <T extends { name: string }>(items: T[]) => [...items].sort((a, b) => a.name.localeCompare(b.name));
const sorted = <T>(record: Record<string, T>): Array<[string, T]> => Object.entries(record).sort(([a], [b]) => a.localeCompare(b));
const isForeignKey = (def: string) => def.startsWith('FOREIGN KEY');
/** A view's query as pg_get_viewdef gives it, without its leading space and final semicolon. */
const query = (def: string) => def.trim().replace(/;$/, '');
/** `f(integer, text)` -> `public.f(integer, text)`, the name quoted, the arguments as PostgreSQL wrote them. */
const functionName = (key: string, q: Quote) => `${sqlName(key.slice(0, key.indexOf('(')), q)}${key.slice(key.indexOf('('))}`;
/** A name as misownedObjects writes it (`public.x`, unquoted): quoted part by part. */
const schemaQualified = (name: string, q: Quote) => `${q(name.slice(0, name.indexOf('.')))}.${q(name.slice(name.indexOf('.') + 1))}`;

/** The columns an INSERT may name: all but the generated ones. */
export const insertableColumns = (t: TableContract) => t.columns.filter((c) => c.generated === undefined);

/**
 * What the generator cannot make, each named, with why: a baseline leaves nothing out in
 * silence, so a schema holding any of these is refused (the squash keeps its migrations).
 */
export function unmakeable(live: LiveSchema): string[] {
  const out = live.others.map((o) => `${o}: the generator cannot make this kind of object`);
  for (const t of live.tables) {
    for (const [name, def] of sorted(t.indexes)) {
      if (def.startsWith(`${INVALID_INDEX} `)) out.push(`${t.name}: index ${name} is invalid (a CREATE INDEX CONCURRENTLY that failed): a baseline can only build it valid; drop or rebuild it in a migration first`);
    }
  }
  let bytes = 0;
  for (const [table, r] of sorted(live.data?.rows ?? {})) {
    if (r.rows === undefined && r.populated !== false) {
      out.push(`${table}: ${r.count} rows after a fresh build of the migrations, more than the ${MAX_SEED_ROWS} a baseline writes as INSERTs (a baseline is source code, read in review): load them outside the migrations, or keep the migration that does`);
    }
    bytes += (r.rows ?? []).reduce((n, row) => n + row.length, 0);
  }
  if (bytes > MAX_SEED_BYTES) {
    out.push(`seed rows: ${bytes} bytes of rows after a fresh build, more than the ${MAX_SEED_BYTES} a baseline writes as INSERTs (a baseline is source code, read in review): load them outside the migrations, or keep the migrations that insert them`);
  }
  return out;
}

// ---- pieces ----

interface SequenceOptions {
  type?: string;
  name?: string;
  start: string;
  increment: string;
  min: string;
  max: string;
  cache: string;
  cycle: boolean;
  ownedBy?: string;
}

/** The reader's descriptor of a sequence (`bigint, start 1, increment 1, min 1, max …, cache 1[, cycle][, owned by t.c]`), taken apart. */
function sequenceOptions(descriptor: string): SequenceOptions {
  const part = (key: string) => new RegExp(`(?:^|, )${key} (.*?)(?=, [a-z]|$)`).exec(descriptor)?.[1];
  const type = /^name /.test(descriptor) ? undefined : descriptor.split(', ')[0];
  return { type, name: part('name'), start: part('start')!, increment: part('increment')!, min: part('min')!, max: part('max')!, cache: part('cache')!,
    cycle: /(^|, )cycle(,|$)/.test(descriptor), ownedBy: /, owned by (.*)$/.exec(descriptor)?.[1] };
}

const sequenceClauses = (s: SequenceOptions) =>
  `${s.type ? `AS ${s.type} ` : ''}START WITH ${s.start} INCREMENT BY ${s.increment} MINVALUE ${s.min} MAXVALUE ${s.max} CACHE ${s.cache}${s.cycle ? ' CYCLE' : ' NO CYCLE'}`;

/** `t.c` or `b4_1.t.c` -> the table (as the reader names it) and the column, by the tables there are. */
function tableAndColumn(live: LiveSchema, name: string): [string, string] | undefined {
  const t = [...live.tables].sort((a, b) => b.name.length - a.name.length).find((x) => name.startsWith(`${x.name}.`));
  return t ? [t.name, name.slice(t.name.length + 1)] : undefined;
}

function columnDefinition(c: ColumnContract, table: string, q: Quote): string {
  const parts = [`${q(c.name)} ${c.type}`];
  if (c.default !== undefined) parts.push(`DEFAULT ${c.default}`);
  if (c.generated !== undefined) parts.push(`GENERATED ALWAYS AS (${c.generated}) STORED`);
  if (c.identity !== undefined) {
    const s = c.identitySequence === undefined ? undefined : sequenceOptions(c.identitySequence);
    const schema = table.includes('.') ? `${q(table.slice(0, table.indexOf('.')))}.` : '';
    parts.push(`GENERATED ${c.identity.toUpperCase()} AS IDENTITY${s ? ` (${s.name ? `SEQUENCE NAME ${schema}${q(s.name)} ` : ''}${sequenceClauses(s)})` : ''}`);
  }
  if (c.notNull) parts.push('NOT NULL');
  return parts.join(' ');
}

/** Views (and materialized views) each after those it names: the order in which they load. */
function viewOrder(defs: Record<string, string>): string[] {
  const names = Object.keys(defs).sort();
  const mentions = (def: string, name: string) => {
    const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace('\\.', '"?\\."?');
    // A view of public is named bare, or as public.name; one of another schema as schema.name.
    return new RegExp(`(^|[^\\w."])${name.includes('.') ? '' : '(public\\.)?'}"?${escaped}"?(?![\\w"])`).test(def);
  };
  const order: string[] = [];
  const left = [...names];
  while (left.length) {
    // One that names none of those left; a cycle (which PostgreSQL would not allow) in name order.
    const at = Math.max(0, left.findIndex((v) => !left.some((o) => o !== v && mentions(defs[v], o))));
    order.push(left.splice(at, 1)[0]);
  }
  return order;
}

/** The tables, each after every table whose foreign keys reference it: the order to drop them in. */
export function dropOrder(live: LiveSchema): string[] {
  const names = live.tables.map((t) => t.name);
  const referenced = (def: string) => {
    const target = /^FOREIGN KEY .* REFERENCES (.+?)\(/.exec(def)?.[1].replace(/"/g, '');
    return target === undefined ? undefined : names.find((n) => n === target || `public.${n}` === target);
  };
  const references = (t: TableContract) => Object.values(t.constraints).map(referenced).filter((r): r is string => !!r && r !== t.name);
  const left = byName(live.tables);
  const order: string[] = [];
  while (left.length) {
    // A table no remaining table references; a cycle of references is dropped in name order.
    const at = Math.max(0, left.findIndex((t) => !left.some((o) => o !== t && references(o).includes(t.name))));
    order.push(left.splice(at, 1)[0].name);
  }
  return order;
}

/**
 * Functions that need the tables first: those whose signature names a table or view (a row
 * type), and those with a SQL-standard body (BEGIN ATOMIC, RETURN), which PostgreSQL parses at
 * once. The others come before the tables, whose defaults and CHECKs may call them.
 */
function needsTables(live: LiveSchema, def: string): boolean {
  if (!/\n\s*AS \$/.test(def)) return true;
  const header = def.slice(0, def.search(/\n\s*AS \$/));
  const relations = [...live.tables.map((t) => t.name), ...Object.keys(live.views), ...Object.keys(live.materializedViews)];
  return relations.some((r) => new RegExp(`(^|[^\\w.])(public\\.)?"?${r.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"?(?![\\w"])`).test(header.replace(/^CREATE[^(]*\(/, '(')));
}

/** The statement that makes a TimescaleDB job, with its configuration as named arguments (config, for add_job), and what alter_job changed. */
function policyStatement(p: PolicyContract, q: Quote): string {
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
  const config = Object.keys(p.config).length ? `, config => ${literal(JSON.stringify(p.config))}::jsonb` : '';
  const statement = made?.() ?? `SELECT add_job(${literal(sqlName(p.kind, q))}::regproc, INTERVAL ${literal(p.schedule)}${config})`;
  const changes = [p.paused ? 'scheduled => false' : '', p.maxRuntime === undefined ? '' : `max_runtime => INTERVAL ${literal(p.maxRuntime)}`,
    p.maxRetries === undefined ? '' : `max_retries => ${p.maxRetries}`, p.retryPeriod === undefined ? '' : `retry_period => INTERVAL ${literal(p.retryPeriod)}`,
    p.fixedSchedule === undefined ? '' : `fixed_schedule => ${p.fixedSchedule}`,
    p.check === undefined ? '' : `check_config => ${p.check === 'none' ? 'NULL' : `${literal(sqlName(p.check, q))}::regproc`}`].filter(Boolean);
  // Each add_* returns the job's id; alter_job changes what it was made with.
  return changes.length ? `SELECT alter_job(${statement.replace(/^SELECT /, '')}, ${changes.join(', ')})` : statement;
}

/** A setting's name as SET takes it: as written where it is a plain (case-insensitive) name, else quoted. */
const settingName = (name: string, q: Quote) => (/^[A-Za-z_][\w.]*$/.test(name) ? name : q(name));

/** GUCs whose value is a list of names (pg_dump's GUC_LIST_QUOTE ones): set element by element. */
const LIST_SETTINGS = ['search_path', 'temp_tablespaces', 'session_preload_libraries', 'local_preload_libraries', 'shared_preload_libraries'];

/** A database setting's value as ALTER DATABASE … SET takes it, from the text pg_db_role_setting keeps. */
function settingValue(name: string, stored: string): string {
  if (!LIST_SETTINGS.includes(name.toLowerCase())) return literal(stored);
  const elements = stored.match(/"(?:[^"]|"")*"|[^,\s][^,]*/g) ?? [];
  return elements.map((e) => literal(e.startsWith('"') ? e.slice(1, -1).replace(/""/g, '"') : e.trim())).join(', ');
}

/**
 * ALTER DATABASE for the database the migration runs on, whatever its name: a migration does
 * not know it, so the statement is made in a DO block from current_database().
 */
function alterThisDatabase(tail: string): string {
  const format = `ALTER DATABASE %I ${tail.replace(/%/g, '%%')}`;
  return `DO $kapman$ BEGIN EXECUTE format(${literal(format)}, current_database()); END $kapman$`;
}

/** The object a grant's or comment's key names (`table x`, `schema s`, `function f(int)`, …) as SQL: its kind and quoted name. */
function objectOf(key: string, live: LiveSchema, q: Quote): { kind: string; name: string } | undefined {
  const m = /^(table|view|materialized view|sequence|foreign table|index|schema|function|type|column|constraint|trigger) (.*)$/.exec(key);
  if (!m) return undefined;
  const [, kind, rest] = m;
  if (kind === 'schema') return { kind: 'SCHEMA', name: q(rest) };
  // ROUTINE: a function or a procedure alike.
  if (kind === 'function') return { kind: 'ROUTINE', name: functionName(rest, q) };
  if (kind === 'column') {
    const tc = tableAndColumn(live, rest);
    return tc && { kind: 'COLUMN', name: `${sqlName(tc[0], q)}.${q(tc[1])}` };
  }
  if (kind === 'constraint' || kind === 'trigger') {
    const on = /^(.*) on (.*)$/.exec(rest);
    return on ? { kind: kind.toUpperCase(), name: `${q(on[1])} ON ${sqlName(on[2], q)}` } : undefined;
  }
  return { kind: kind.toUpperCase(), name: sqlName(rest, q) };
}

const DEFAULT_PRIVILEGES = /^default privileges of (.+?)(?: in schema (.+?))? on (tables|sequences|functions|types|schemas)$/;

/** What a role may do with what it makes, unless it says otherwise: its default privileges' own entry, which a baseline need not grant. */
const OWN_DEFAULTS: Record<string, string> = {
  tables: 'DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE', sequences: 'SELECT, UPDATE, USAGE', functions: 'EXECUTE', types: 'USAGE', schemas: 'CREATE, USAGE',
};

/** ALTER DEFAULT PRIVILEGES for `role` (none: for whoever runs the statement, when that is the role that ran the migrations). */
const defaultPrivileges = (role: string, schema: string | undefined, self: string | undefined) =>
  `ALTER DEFAULT PRIVILEGES${role === self ? '' : ` FOR ROLE ${role}`}${schema ? ` IN SCHEMA ${schema}` : ''}`;

/** GRANT (and REVOKE) statements for a grant item of the reader's (`table tickers to reporting` -> `SELECT, INSERT*`). */
function grantStatements(key: string, privileges: string, live: LiveSchema, q: Quote, self?: string): string[] | undefined {
  const at = key.lastIndexOf(' to ');
  const [object, grantee] = [key.slice(0, at), key.slice(at + 4)];
  const list = privileges.split(', ');
  const plain = list.filter((p) => !p.endsWith('*'));
  const grantable = list.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1));
  const d = DEFAULT_PRIVILEGES.exec(object);
  if (d) {
    if (grantee === d[1] && privileges === OWN_DEFAULTS[d[3]]) return [];
    const head = defaultPrivileges(d[1], d[2], self);
    const to = grantee === self ? 'CURRENT_ROLE' : grantee;
    return [...(plain.length ? [`${head} GRANT ${plain.join(', ')} ON ${d[3].toUpperCase()} TO ${to}`] : []),
      ...(grantable.length ? [`${head} GRANT ${grantable.join(', ')} ON ${d[3].toUpperCase()} TO ${to} WITH GRANT OPTION`] : [])];
  }
  const o = objectOf(object, live, q);
  if (!o) return undefined;
  const kind = ['VIEW', 'MATERIALIZED VIEW', 'FOREIGN TABLE'].includes(o.kind) ? 'TABLE' : o.kind;
  if (privileges === 'none') return [`REVOKE ALL ON ${kind} ${o.name} FROM ${grantee}`];
  return [...(plain.length ? [`GRANT ${plain.join(', ')} ON ${kind} ${o.name} TO ${grantee}`] : []),
    ...(grantable.length ? [`GRANT ${grantable.join(', ')} ON ${kind} ${o.name} TO ${grantee} WITH GRANT OPTION`] : [])];
}

/** ALTER … OWNER TO for an item of misownedObjects' (`table public.x`, `function f(integer)`, `schema s`). */
function ownerStatement(item: string, role: string, q: Quote): string {
  const [, kind, name] = /^(table|view|materialized view|sequence|foreign table|type|schema|function) (.*)$/.exec(item)!;
  if (kind === 'schema') return `ALTER SCHEMA ${q(name)} OWNER TO ${q(role)}`;
  // misownedObjects writes a function as regprocedure does (qualified where the search path needs it); ROUTINE takes a procedure too.
  if (kind === 'function') return `ALTER ROUTINE ${name} OWNER TO ${q(role)}`;
  return `ALTER ${kind.toUpperCase()} ${schemaQualified(name, q)} OWNER TO ${q(role)}`;
}

// ---- the whole ----

/**
 * The statements that build `live` on an empty database, in groups and in an order that works:
 * extensions, schemas, enum types, functions the tables may call (bodies checked later),
 * sequences, each table with its keys, indexes and column options, the hypertables with their
 * dimensions and compression settings, the seed rows (with `extras.seed`), the foreign keys,
 * where each sequence stands, views (each after those it names), the functions that needed the
 * tables, triggers, row-level security, TimescaleDB's policies, comments, grants, owners, and
 * the database's settings. Each index is its own statement, so a hypertable is made without its
 * default ones.
 */
export function schemaStatements(live: LiveSchema, q: Quote, extras: Extras = {}): string[][] {
  const groups: string[][] = [live.extensions.map((e) => `CREATE EXTENSION IF NOT EXISTS ${q(e)}`)];
  groups.push(live.schemas.map((s) => `CREATE SCHEMA ${q(s)}`));
  groups.push(sorted(live.enums).map(([name, values]) => `CREATE TYPE ${sqlName(name, q)} AS ENUM (${values.map(literal).join(', ')})`));
  const [late, early] = partition(sorted(live.functions), ([, def]) => needsTables(live, def));
  // A SQL function's body names tables made further down: PostgreSQL checks it when the function is made, unless told not to.
  if (early.length) groups.push(['SET check_function_bodies = off', ...early.map(([, def]) => def.trim()), 'RESET check_function_bodies']);
  const sequences = sorted(live.sequences).map(([name, d]) => [name, sequenceOptions(d)] as const);
  groups.push(sequences.map(([name, s]) => `CREATE SEQUENCE ${sqlName(name, q)} ${sequenceClauses(s)}`));
  const tables = byName(live.tables);
  for (const t of tables) {
    const table = sqlName(t.name, q);
    groups.push([
      `CREATE TABLE ${table} (\n${t.columns.map((c) => `    ${columnDefinition(c, t.name, q)}`).join(',\n')}\n)`,
      ...sorted(t.constraints).filter(([, d]) => !isForeignKey(d)).map(([name, def]) => `ALTER TABLE ONLY ${table} ADD CONSTRAINT ${q(name)} ${def}`),
      ...sorted(t.indexes).filter(([n]) => !(n in t.constraints)).map(([name, def]) => {
        const unique = def.startsWith('UNIQUE ');
        return `CREATE ${unique ? 'UNIQUE ' : ''}INDEX ${q(name)} ON ${table} USING ${def.replace(/^UNIQUE /, '')}`;
      }),
      ...t.columns.filter((c) => c.options?.length).map((c) => `ALTER TABLE ONLY ${table} ALTER COLUMN ${q(c.name)} SET (${c.options!.join(', ')})`),
    ]);
  }
  groups.push(sequences.filter(([, s]) => s.ownedBy).map(([name, s]) => {
    const [table, column] = tableAndColumn(live, s.ownedBy!) ?? [s.ownedBy!, ''];
    return `ALTER SEQUENCE ${sqlName(name, q)} OWNED BY ${sqlName(table, q)}.${q(column)}`;
  }));
  groups.push(live.hypertables.flatMap((h) => {
    const table = sqlName(h.table, q);
    const interval = (i: string) => (/^\d+$/.test(i) ? i : `INTERVAL ${literal(i)}`);
    return [
      `SELECT create_hypertable(${literal(table)}, by_range(${literal(h.timeColumn)}, ${interval(h.chunkInterval)}), create_default_indexes => false)`,
      ...(h.dimensions ?? []).map((d) => {
        const [, column, how] = /^(.*): (.*)$/.exec(d)!;
        const hash = /^hash, (\d+) partitions$/.exec(how);
        return `SELECT add_dimension(${literal(table)}, ${hash ? `by_hash(${literal(column)}, ${hash[1]})` : `by_range(${literal(column)}, ${interval(how.replace(/^range, interval /, ''))})`})`;
      }),
      ...(h.integerNow ? [`SELECT set_integer_now_func(${literal(table)}, ${literal(sqlName(h.integerNow, q))})`] : []),
      ...(h.tablespaces ?? []).map((ts) => `SELECT attach_tablespace(${literal(ts)}, ${literal(table)})`),
      ...(h.compression ? [`ALTER TABLE ${table} SET (${['timescaledb.compress',
        ...(h.compression.segmentBy ? [`timescaledb.compress_segmentby = ${literal(h.compression.segmentBy)}`] : []),
        ...(h.compression.orderBy ? [`timescaledb.compress_orderby = ${literal(h.compression.orderBy)}`] : [])].join(', ')})`] : []),
    ];
  }));
  // The rows before the foreign keys (which check them all once) and the triggers (which would act on them again).
  groups.push([...dropOrder(live)].reverse().flatMap((name) => {
    const rows = extras.seed?.[name];
    if (!rows?.length) return [];
    const t = live.tables.find((x) => x.name === name)!;
    const columns = insertableColumns(t);
    const overriding = columns.some((c) => c.identity === 'always') ? ' OVERRIDING SYSTEM VALUE' : '';
    return [`INSERT INTO ${sqlName(name, q)} (${columns.map((c) => q(c.name)).join(', ')})${overriding} VALUES\n${rows.map((r) => `    (${r.join(', ')})`).join(',\n')}`];
  }));
  // On a hypertable not ONLY: by now it may have chunks (TimescaleDB refuses ONLY on one), and they take the key too.
  const hypertables = new Set(live.hypertables.map((h) => h.table));
  groups.push(tables.flatMap((t) => sorted(t.constraints).filter(([, d]) => isForeignKey(d))
    .map(([name, def]) => `ALTER TABLE ${hypertables.has(t.name) ? '' : 'ONLY '}${sqlName(t.name, q)} ADD CONSTRAINT ${q(name)} ${def}`)));
  groups.push(sorted(live.data?.sequenceState ?? {}).filter(([, state]) => state.startsWith('last value '))
    .map(([name, state]) => `SELECT setval(${literal(sqlName(name, q))}, ${state.replace('last value ', '')}, true)`));
  const populated = (name: string) => live.data?.rows[name]?.populated !== false && live.data !== undefined;
  const relations: Record<string, string> = { ...live.views, ...live.materializedViews };
  // Continuous aggregates first: they read hypertables only, and views may read them.
  groups.push([
    ...sorted(live.continuousAggregates).map(([name, c]) =>
      `CREATE MATERIALIZED VIEW ${sqlName(name, q)} WITH (timescaledb.continuous, timescaledb.materialized_only = ${c.materializedOnly}) AS ${query(c.query)} WITH NO DATA`),
    ...viewOrder(relations).map((name) => (name in live.views ? `CREATE VIEW ${sqlName(name, q)} AS ${query(relations[name])}`
      : `CREATE MATERIALIZED VIEW ${sqlName(name, q)} AS ${query(relations[name])} WITH ${populated(name) ? '' : 'NO '}DATA`)),
  ]);
  groups.push(late.map(([, def]) => def.trim()));
  groups.push(tables.flatMap((t) => sorted(t.triggers ?? {}).map(([, def]) => def)));
  groups.push(tables.flatMap((t) => [
    ...(t.rowSecurity ? [`ALTER TABLE ${sqlName(t.name, q)} ENABLE ROW LEVEL SECURITY`] : []),
    ...(t.rowSecurity === 'forced' ? [`ALTER TABLE ${sqlName(t.name, q)} FORCE ROW LEVEL SECURITY`] : []),
    ...sorted(t.rowPolicies ?? {}).map(([name, def]) => `CREATE POLICY ${q(name)} ON ${sqlName(t.name, q)} ${def}`),
  ]));
  groups.push(live.policies.map((p) => policyStatement(p, q)));
  groups.push(sorted(live.comments).map(([key, text]) => {
    const o = objectOf(key, live, q);
    return o ? `COMMENT ON ${o.kind} ${o.name} IS ${literal(text)}` : `-- comment on ${key}: not made`;
  }));
  groups.push(sorted(live.grants).flatMap(([key, privileges]) => grantStatements(key, privileges, live, q, extras.role) ?? [`-- grant on ${key}: not made`]));
  groups.push(sorted(extras.owners ?? {}).map(([item, role]) => ownerStatement(item, role, q)));
  groups.push(sorted(live.settings).map(([name, value]) => alterThisDatabase(`SET ${settingName(name, q)} = ${settingValue(name, value)}`)));
  return groups.filter((g) => g.length > 0);
}

/**
 * The statements that drop what schemaStatements made, in an order that works: the database's
 * settings reset, default privileges revoked, views (each before those it names), the functions
 * that needed the tables, the tables (each before those its foreign keys reference; their
 * indexes, triggers, policies and rows go with them), sequences of their own, the other
 * functions, the types, the schemas. Extensions stay, as the squashed migrations' downs left them.
 */
export function dropStatements(live: LiveSchema, q: Quote, extras: Pick<Extras, 'role'> = {}): string[] {
  const [late, early] = partition(sorted(live.functions), ([, def]) => needsTables(live, def));
  const dropFunction = ([key]: [string, string]) => `DROP ROUTINE ${functionName(key, q)}`;
  const relations: Record<string, string> = { ...live.views, ...live.materializedViews };
  return [
    ...sorted(live.settings).map(([name]) => alterThisDatabase(`RESET ${settingName(name, q)}`)),
    ...sorted(live.grants).flatMap(([key, privileges]) => {
      const at = key.lastIndexOf(' to ');
      const [d, grantee] = [DEFAULT_PRIVILEGES.exec(key.slice(0, at)), key.slice(at + 4)];
      if (!d || (grantee === d[1] && privileges === OWN_DEFAULTS[d[3]])) return [];
      return [`${defaultPrivileges(d[1], d[2], extras.role)} REVOKE ${privileges.replace(/\*/g, '')} ON ${d[3].toUpperCase()} FROM ${grantee === extras.role ? 'CURRENT_ROLE' : grantee}`];
    }),
    ...viewOrder(relations).reverse().map((name) => `DROP ${name in live.views ? 'VIEW' : 'MATERIALIZED VIEW'} ${sqlName(name, q)}`),
    ...Object.keys(live.continuousAggregates).sort().map((name) => `DROP MATERIALIZED VIEW ${sqlName(name, q)}`),
    ...late.map(dropFunction),
    // One table a statement (TimescaleDB drops a hypertable only alone), each before those it references.
    ...dropOrder(live).map((t) => `DROP TABLE ${sqlName(t, q)}`),
    ...sorted(live.sequences).filter(([, d]) => !sequenceOptions(d).ownedBy).map(([name]) => `DROP SEQUENCE ${sqlName(name, q)}`),
    ...early.map(dropFunction),
    ...(Object.keys(live.enums).length ? [`DROP TYPE ${Object.keys(live.enums).sort().map((e) => sqlName(e, q)).join(', ')}`] : []),
    ...[...live.schemas].reverse().map((s) => `DROP SCHEMA ${q(s)}`),
  ];
}

function partition<T>(items: T[], test: (item: T) => boolean): [T[], T[]] {
  return [items.filter(test), items.filter((x) => !test(x))];
}
