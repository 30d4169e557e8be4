// Compares two schemas item by item: what is missing, unexpected or changed, grouped
// by table (or `database` for extensions, enums, hypertables and stray objects).
import crypto from 'crypto';
import { escapeIdentifier } from 'pg';
import type { HypertableContract, PolicyContract, SchemaContract, TableContract } from '../../../db/contract';
import type { Baseline } from '../../../db/migrationSource';
import type { AppliedMigration, LiveSchema } from './introspect';
import type { Data, TableRows } from './read/data';
import { sqlName } from './read/scope';

export interface Difference {
  /** A table name, or `database` for what belongs to no table. */
  group: string;
  kind: 'missing' | 'unexpected' | 'changed';
  /** What differs, e.g. `column volume`, `index ohlcv_date_idx`, `enum option_type`. */
  item: string;
  expected?: string;
  actual?: string;
}

const LONGEST_VALUE = 100;

/**
 * A difference's two values, each on one line and short: a definition (a view's query, a
 * function) only where both sides have one, from a little before the place where they part.
 */
export function briefValues(d: Difference): [string, string] {
  const flat = (v: string | undefined) => (v === undefined ? undefined : v.replace(/\s+/g, ' ').trim());
  let [e, a] = [flat(d.expected), flat(d.actual)];
  if (d.kind !== 'changed') {
    const long = (v?: string) => (v !== undefined && v.length > LONGEST_VALUE ? 'present' : v);
    [e, a] = [long(e), long(a)];
  } else if (e !== undefined && a !== undefined && Math.max(e.length, a.length) > LONGEST_VALUE) {
    let at = 0;
    while (at < e.length && e[at] === a[at]) at++;
    const from = Math.max(0, at - 20);
    const cut = (v: string) => `${from ? '…' : ''}${v.slice(from, from + LONGEST_VALUE)}${v.length > from + LONGEST_VALUE ? '…' : ''}`;
    [e, a] = [cut(e), cut(a)];
  }
  return [d.kind === 'unexpected' ? 'missing' : e ?? 'present', d.kind === 'missing' ? 'missing' : a ?? 'present'];
}

/** One line: `group: item: <expected> in <first>, <actual> in <second>`, the expected side named first. */
export function describeDifference(d: Difference, labels: [string, string]): string {
  const [expected, actual] = briefValues(d);
  return `${d.group}: ${d.item}: ${expected} in ${labels[0]}, ${actual} in ${labels[1]}`;
}

/**
 * A query that shows, in psql on the database, what a difference is about: the catalog's own
 * rows for the object it names (read-only).
 */
export function inspectionSql(d: Difference): string {
  const lit = (text: string) => `'${text.replace(/'/g, "''")}'`;
  const rel = (name: string) => `${lit(sqlName(name, escapeIdentifier))}::regclass`;
  const schemaAndName = (name: string) => (name.includes('.') ? [name.slice(0, name.indexOf('.')), name.slice(name.indexOf('.') + 1)] : ['public', name]);
  const thisDatabase = 'setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())';
  const item = d.item;
  const after = (prefix: string) => item.slice(prefix.length);
  if (d.group !== 'database') {
    const t = rel(d.group);
    const [schema, table] = schemaAndName(d.group).map(lit);
    if (item === 'table') return `SELECT table_schema, table_name, table_type FROM information_schema.tables WHERE table_schema = ${schema} AND table_name = ${table}`;
    if (item.startsWith('column ')) return `SELECT column_name, data_type, is_nullable, column_default, is_identity, is_generated FROM information_schema.columns WHERE table_schema = ${schema} AND table_name = ${table} AND column_name = ${lit(after('column '))}`;
    if (item.startsWith('constraint ')) return `SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = ${t}`;
    if (item.startsWith('index ')) return `SELECT indexrelid::regclass, indisvalid, pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = ${t}`;
    if (item.startsWith('trigger ')) return `SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = ${t} AND NOT tgisinternal`;
    if (item === 'row-level security') return `SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = ${t}`;
    if (item.startsWith('row-level security policy ')) return `SELECT * FROM pg_policies WHERE schemaname = ${schema} AND tablename = ${table}`;
    return `SELECT count(*) FROM ${sqlName(d.group, escapeIdentifier)}`;
  }
  if (item.startsWith('extension ')) return `SELECT extname, extversion FROM pg_extension WHERE extname = ${lit(after('extension '))}`;
  if (item.startsWith('schema ')) return `SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ${lit(after('schema '))}`;
  if (item.startsWith('enum ')) return `SELECT enumlabel FROM pg_enum WHERE enumtypid = ${lit(sqlName(after('enum '), escapeIdentifier))}::regtype ORDER BY enumsortorder`;
  if (/^(hypertable|compression of) /.test(item)) {
    const [schema, table] = schemaAndName(item.replace(/^(hypertable|compression of) /, '')).map(lit);
    return `SELECT * FROM timescaledb_information.dimensions d JOIN timescaledb_information.hypertable_compression_settings s ON s.hypertable = format('%I.%I', d.hypertable_schema, d.hypertable_name)::regclass WHERE d.hypertable_schema = ${schema} AND d.hypertable_name = ${table}`;
  }
  if (/ policy( on |$| #)/.test(item)) return 'SELECT job_id, proc_name, hypertable_schema, hypertable_name, schedule_interval, config, scheduled, max_runtime, max_retries, retry_period, fixed_schedule, check_name FROM timescaledb_information.jobs WHERE job_id >= 1000';
  if (/^(view|materialized view) /.test(item)) return `SELECT pg_get_viewdef(${rel(item.replace(/^(materialized )?view /, ''))})`;
  if (item.startsWith('continuous aggregate ')) return `SELECT view_definition, materialized_only FROM timescaledb_information.continuous_aggregates WHERE format('%I.%I', view_schema, view_name)::regclass = ${rel(after('continuous aggregate '))}`;
  if (item.startsWith('function ')) return `SELECT oid::regprocedure, pg_get_functiondef(oid) FROM pg_proc WHERE proname = ${lit(schemaAndName(after('function ').replace(/\(.*$/, ''))[1])}`;
  if (item.startsWith('sequence ') || item.startsWith('state of sequence ')) {
    const [schema, name] = schemaAndName(item.replace(/^(state of )?sequence /, '')).map(lit);
    return `SELECT * FROM pg_sequences WHERE schemaname = ${schema} AND sequencename = ${name}`;
  }
  if (item.startsWith('setting ')) return `SELECT setconfig FROM pg_db_role_setting WHERE ${thisDatabase} AND setrole = 0`;
  if (item.startsWith('grant on default privileges')) return 'SELECT defaclrole::regrole, defaclnamespace::regnamespace, defaclobjtype, defaclacl FROM pg_default_acl';
  if (item.startsWith('grant on schema ')) return `SELECT nspacl FROM pg_namespace WHERE nspname = ${lit(after('grant on schema ').replace(/ to .*$/, ''))}`;
  if (item.startsWith('grant on function ')) return `SELECT oid::regprocedure, proacl FROM pg_proc WHERE proname = ${lit(schemaAndName(after('grant on function ').replace(/\(.*$/, ''))[1])}`;
  if (item.startsWith('grant on ')) return `SELECT relacl FROM pg_class WHERE oid = ${rel(after('grant on ').replace(/^(table|view|materialized view|sequence|foreign table|index) /, '').replace(/ to .*$/, ''))}`;
  if (item.startsWith('comment on column ')) return `SELECT objsubid, description FROM pg_description WHERE objoid = ${rel(after('comment on column ').replace(/\.[^.]*$/, ''))}`;
  if (/^comment on (table|view|materialized view|sequence|foreign table|index) /.test(item)) {
    return `SELECT obj_description(${rel(item.replace(/^comment on (table|view|materialized view|sequence|foreign table|index) /, ''))})`;
  }
  if (item.startsWith('comment on ')) return 'SELECT classoid::regclass, objoid, objsubid, description FROM pg_description WHERE classoid <> \'pg_class\'::regclass';
  const owned = /^owner of (table|view|materialized view|sequence|foreign table) ([^.]+)\.(.+)$/.exec(item);
  if (owned) {
    return `SELECT c.oid::regclass, c.relowner::regrole, d.datdba::regrole AS database_owner FROM pg_class c, pg_database d
      WHERE c.relnamespace = ${lit(owned[2])}::regnamespace AND c.relname = ${lit(owned[3])} AND d.datname = current_database()`;
  }
  if (item.startsWith('owner of ')) return 'SELECT datdba::regrole AS database_owner FROM pg_database WHERE datname = current_database()';
  return `\\d+ (${item})`;
}

type Items = Map<string, { group: string; item: string; value: string }>;

function describeColumn(c: TableContract['columns'][number]): string {
  return [c.type, c.notNull ? 'NOT NULL' : 'NULL', c.default === undefined ? '' : `DEFAULT ${c.default}`,
    c.generated === undefined ? '' : `GENERATED ALWAYS AS (${c.generated}) STORED`,
    c.identity === undefined ? '' : `GENERATED ${c.identity.toUpperCase()} AS IDENTITY`,
    c.identitySequence === undefined ? '' : `(sequence ${c.identitySequence})`,
    c.options?.length ? `WITH (${c.options.join(', ')})` : ''].filter(Boolean).join(' ');
}

const describeHypertable = (h: HypertableContract) =>
  [`on ${h.timeColumn}, chunk interval ${h.chunkInterval}`, ...(h.dimensions ?? []), ...(h.integerNow ? [`now from ${h.integerNow}`] : []),
    ...(h.tablespaces ? [`tablespaces ${h.tablespaces.join(', ')}`] : [])].join('; ');

/** A policy's name as a difference names it: `retention policy on ohlcv`. */
export const policyItem = (p: PolicyContract) => `${p.kind} policy${p.on ? ` on ${p.on}` : ''}`;
/** A job's configuration as `key: value, …`, keys in order. */
export const describeConfig = (config: Record<string, unknown>) =>
  Object.keys(config).sort().map((k) => `${k}: ${typeof config[k] === 'string' ? config[k] : JSON.stringify(config[k])}`).join(', ') || 'no config';
const describePolicy = (p: PolicyContract) => [`${describeConfig(p.config)}`, `every ${p.schedule}`, p.paused ? 'paused' : '',
  p.maxRuntime === undefined ? '' : `max runtime ${p.maxRuntime}`, p.maxRetries === undefined ? '' : `${p.maxRetries} retries`,
  p.retryPeriod === undefined ? '' : `retry every ${p.retryPeriod}`, p.fixedSchedule === undefined ? '' : `fixed schedule ${p.fixedSchedule ? 'on' : 'off'}`,
  p.check === undefined ? '' : `check ${p.check}`].filter(Boolean).join('; ');

function flatten(schema: SchemaContract & { others?: string[]; data?: Data }): { tables: Set<string>; items: Items } {
  const items: Items = new Map();
  const add = (group: string, item: string, value: string) => items.set(`${group}\u0000${item}`, { group, item, value });
  const each = (record: Record<string, string> | undefined, item: (name: string) => string) => {
    for (const [name, value] of Object.entries(record ?? {})) add('database', item(name), value);
  };
  for (const e of schema.extensions) add('database', `extension ${e}`, 'installed');
  for (const s of schema.schemas ?? []) add('database', `schema ${s}`, 'present');
  for (const [name, values] of Object.entries(schema.enums)) add('database', `enum ${name}`, values.join(', '));
  for (const h of schema.hypertables) {
    add('database', `hypertable ${h.table}`, describeHypertable(h));
    if (h.compression) add('database', `compression of ${h.table}`, `segment by ${h.compression.segmentBy || 'nothing'}, order by ${h.compression.orderBy || 'nothing'}`);
  }
  for (const p of schema.policies ?? []) {
    // Two jobs of one kind on one table (add_job twice) are told apart by their place.
    const same = [...items.values()].filter((x) => x.item === policyItem(p) || x.item.startsWith(`${policyItem(p)} #`)).length;
    add('database', same ? `${policyItem(p)} #${same + 1}` : policyItem(p), describePolicy(p));
  }
  each(schema.views, (n) => `view ${n}`);
  each(schema.materializedViews, (n) => `materialized view ${n}`);
  for (const [name, c] of Object.entries(schema.continuousAggregates ?? {})) {
    add('database', `continuous aggregate ${name}`, `${c.materializedOnly ? 'materialized only' : 'real time'}: ${c.query}`);
  }
  each(schema.functions, (n) => `function ${n}`);
  each(schema.sequences, (n) => `sequence ${n}`);
  each(schema.settings, (n) => `setting ${n}`);
  each(schema.grants, (n) => `grant on ${n}`);
  each(schema.comments, (n) => `comment on ${n}`);
  for (const o of schema.others ?? []) add('database', o, 'present');
  for (const t of schema.tables) {
    for (const c of t.columns) add(t.name, `column ${c.name}`, describeColumn(c));
    for (const [name, def] of Object.entries(t.constraints)) add(t.name, `constraint ${name}`, def);
    for (const [name, def] of Object.entries(t.indexes)) add(t.name, `index ${name}`, def);
    for (const [name, def] of Object.entries(t.triggers ?? {})) add(t.name, `trigger ${name}`, def);
    if (t.rowSecurity) add(t.name, 'row-level security', t.rowSecurity);
    for (const [name, def] of Object.entries(t.rowPolicies ?? {})) add(t.name, `row-level security policy ${name}`, def);
  }
  // The data of a fresh build, when both sides were read with it (a squash's proof).
  for (const [table, r] of Object.entries(schema.data?.rows ?? {})) add(table, 'rows', describeRows(r));
  each(schema.data?.sequenceState, (n) => `state of sequence ${n}`);
  return { tables: new Set(schema.tables.map((t) => t.name)), items };
}

/** A table's rows as one value: their count, and a digest that differs when any row does. */
function describeRows(r: TableRows): string {
  if (r.populated === false) return 'not populated';
  if (!r.rows) return `${r.count} rows (more than were read)`;
  return `${r.count === 1 ? '1 row' : `${r.count} rows`}, sha256 ${crypto.createHash('sha256').update(r.rows.join('\n')).digest('hex').slice(0, 12)}`;
}

export function diffSchema(expected: SchemaContract, actual: LiveSchema): Difference[] {
  const want = flatten(expected);
  // Extensions the contract does not name are the server's or the platform's (pg_stat_statements
  // on a managed service), not the schema's; an in-place reset keeps them. So are database settings
  // it does not name: ops' and the platform's, which every reset keeps with the database. (A
  // comparison of two builds runs both ways, and so still sees a setting either one lost.)
  const settings = Object.fromEntries(Object.entries(actual.settings ?? {}).filter(([name]) => name in (expected.settings ?? {})));
  const have = flatten({ ...actual, extensions: actual.extensions.filter((e) => expected.extensions.includes(e)), settings });
  const out: Difference[] = [];
  // A whole table missing or unexpected is one difference, not one per column.
  for (const t of want.tables) if (!have.tables.has(t)) out.push({ group: t, kind: 'missing', item: 'table' });
  for (const t of have.tables) if (!want.tables.has(t)) out.push({ group: t, kind: 'unexpected', item: 'table' });
  const tableGone = (group: string) => !(want.tables.has(group) && have.tables.has(group)) && group !== 'database';
  for (const [key, w] of want.items) {
    if (tableGone(w.group)) continue;
    const h = have.items.get(key);
    if (!h) out.push({ group: w.group, kind: 'missing', item: w.item, expected: w.value });
    else if (h.value !== w.value) out.push({ group: w.group, kind: 'changed', item: w.item, expected: w.value, actual: h.value });
  }
  for (const [key, h] of have.items) {
    if (tableGone(h.group) || want.items.has(key)) continue;
    out.push({ group: h.group, kind: 'unexpected', item: h.item, actual: h.value });
  }
  const order = ['database', ...expected.tables.map((t) => t.name)];
  const rank = (g: string) => (order.includes(g) ? order.indexOf(g) : order.length);
  return out.sort((a, b) => rank(a.group) - rank(b.group) || a.group.localeCompare(b.group));
}

export interface MigrationFile {
  name: string;
  sha256: string;
  /** Hashes of a known, harmless earlier edit of the file (FORMER_CHECKSUMS): applied as written too. */
  former?: string[];
}

export interface MigrationState {
  name: string;
  state: 'applied' | 'pending' | 'edited since applied' | 'applied, file missing' | 'applied, no checksum recorded';
  /** The file's hash now, and the one recorded when it was applied. */
  current?: string;
  recorded?: string | null;
  /** A baseline's: the migrations it replaced. */
  squashes?: string[];
  /** A baseline whose squashed migrations the database applied, not recorded yet: db:migrate records it. */
  toCarry?: boolean;
}

/** Every migration file and every applied migration, with where it stands. */
export function migrationStates(files: MigrationFile[], applied: AppliedMigration[]): MigrationState[] {
  const recorded = new Map(applied.map((a) => [a.name, a.sha256]));
  const states: MigrationState[] = files.map((f): MigrationState => {
    if (!recorded.has(f.name)) return { name: f.name, state: 'pending', current: f.sha256 };
    const sha = recorded.get(f.name) ?? null;
    const state = sha === null ? 'applied, no checksum recorded' : sha === f.sha256 || f.former?.includes(sha) ? 'applied' : 'edited since applied';
    return { name: f.name, state, current: f.sha256, recorded: sha };
  });
  for (const a of applied) {
    if (!files.some((f) => f.name === a.name)) states.push({ name: a.name, state: 'applied, file missing', recorded: a.sha256 });
  }
  return states;
}

/**
 * Applied migrations against the files: edited since applied, gone, or not applied yet. With
 * `baselines`, a baseline whose squashed migrations are applied but which is not recorded yet
 * is one difference, not one per squashed file.
 */
export function diffMigrations(files: MigrationFile[], applied: AppliedMigration[], baselines: Baseline[] = []): Difference[] {
  const group = 'migrations';
  const short = (sha?: string | null) => (sha ?? '').slice(0, 12);
  const fold = foldSquashed(files, applied, baselines);
  const unrecorded = fold.carried.map((c): Difference => ({ group, kind: 'missing', item: `record of ${c.baseline}`, expected: 'recorded as applied',
    actual: `the ${c.squashed.length} migrations it squashed are applied: \`npm run db:migrate\` records it` }));
  return [...unrecorded, ...migrationStates(files, fold.applied).flatMap((m): Difference[] => {
    switch (m.state) {
      case 'applied': return [];
      case 'pending': return [{ group, kind: 'missing', item: `migration ${m.name}`, expected: 'applied' }];
      case 'applied, file missing': return [{ group, kind: 'unexpected', item: `migration ${m.name}`, actual: 'applied, but its file no longer exists' }];
      case 'applied, no checksum recorded': return [{ group, kind: 'missing', item: `checksum of ${m.name}`, expected: `sha256 ${short(m.current)}`, actual: 'none recorded' }];
      case 'edited since applied':
        return [{ group, kind: 'changed', item: `migration ${m.name}`, expected: `sha256 ${short(m.recorded)} (as applied)`, actual: `sha256 ${short(m.current)} (file now)` }];
    }
  })];
}

/** Where a database stands against a baseline it has not recorded yet. */
export interface SquashFold {
  /** The applied migrations as they are once carried past every squash: each fully applied baseline in place of what it squashed. */
  applied: AppliedMigration[];
  /** Baselines whose squashed migrations the database applied in full, with the applied rows they replace. */
  carried: Array<{ baseline: string; squashed: string[] }>;
  /** A baseline only some of whose squashed migrations are applied: the database cannot be carried past it. */
  partway?: { baseline: string; applied: string[]; missing: string[] };
  /** Squashed migrations applied with other content than they had when squashed. */
  edited?: { baseline: string; files: string[] };
}

/**
 * Reads `applied` past the baselines of `files`: a database that applied every migration a
 * baseline squashed (directly, or through an older baseline in the squashed folder) counts as
 * having applied the baseline. `baselines` holds the current ones and the squashed older ones.
 */
export function foldSquashed(files: MigrationFile[], applied: AppliedMigration[], baselines: Baseline[]): SquashFold {
  const recorded = new Map(applied.map((a) => [a.name, a.sha256]));
  const older = new Map(baselines.map((b) => [b.name, b.squashes]));
  const former = (name: string) => baselines.flatMap((b) => b.former?.[name] ?? []);
  const fold: SquashFold = { applied: [...applied], carried: [] };
  for (const file of files) {
    const squashes = older.get(file.name);
    if (!squashes || recorded.has(file.name)) continue;
    const used: string[] = [];
    const missing: string[] = [];
    const edited: string[] = [];
    const visit = (members: Record<string, string>) => {
      for (const [name, sha] of Object.entries(members)) {
        if (recorded.has(name)) {
          used.push(name);
          const had = recorded.get(name);
          if (had !== null && had !== undefined && had !== sha && !former(name).includes(had)) edited.push(name);
        } else if (older.has(name)) visit(older.get(name)!);
        else missing.push(name);
      }
    };
    visit(squashes);
    if (used.length === 0) continue;
    if (edited.length) return { ...fold, edited: { baseline: file.name, files: edited } };
    if (missing.length) return { ...fold, partway: { baseline: file.name, applied: used, missing } };
    fold.applied = [...fold.applied.filter((a) => !used.includes(a.name)), { name: file.name, sha256: file.sha256 }];
    for (const name of used) recorded.delete(name);
    recorded.set(file.name, file.sha256);
    fold.carried.push({ baseline: file.name, squashed: used });
  }
  return fold;
}
