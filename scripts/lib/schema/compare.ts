// Proves two databases hold the same schema, and (for a squash) the same seed rows: the database
// the old migrations build against the one its baseline builds. Three ways that miss different
// things: the one reader's picture of each (every schema in scope, TimescaleDB's catalog,
// access, comments, settings, owners and, with data, the rows and sequence states), each
// against the contract, and pg_dump's text, a second opinion that reads the catalog on its own.
// The carry-forward compares a live database with a scratch build by the first, without data.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { performance } from 'perf_hooks';
import type { Client } from 'pg';
import { escapeIdentifier } from 'pg';
import { MIGRATIONS_SCHEMA } from '../../../db/migrationSource';
import { chooseTool, runTool } from '../server/clientTools';
import { BackupFailedError } from '../cli/errors';
import { count } from '../cli/log';
import { withClient } from '../server/connection';
import type { Settings } from '../server/settings';
import { describeDifference, Difference, diffSchema } from './drift';
import { reconcileExpressions } from './expressions';
import { LiveSchema, misownedObjects, readSchema } from './introspect';
import { BOOKKEEPING_RELATIONS } from './read/scope';
import { BUILD_STAMP_OPTIONS } from './read/tables';
import { verifyOn } from './verify';

export interface Comparison {
  /** 'structure', 'contract' or 'pg_dump --schema-only' */
  check: string;
  /** What the check covered, for the report: e.g. '9 tables, 41 columns, 23 indexes, …' */
  covered: string;
  /** Empty when identical; else one line per difference, readable, e.g. 'ohlcv: index ohlcv_date_idx: btree (date DESC) in old migrations, missing in baseline' */
  differences: string[];
  /** What the check found the same on both sides and worth saying, not a difference between them (both differ from the contract alike). */
  notes?: string[];
  ms: number;
}

type Labels = [string, string];
type Result = Omit<Comparison, 'check' | 'ms'>;

/** One database as pg_dump reaches it, and its name and owner as pg_dump writes them (quote_ident). */
interface Side {
  settings: Settings;
  label: string;
  owner: string;
  database: string;
  serverMajor: number;
}

// At most this many lines of a pg_dump difference: the first few say what is wrong.
const MAX_DUMP_LINES = 20;

/**
 * Compares database `left` with `right` (both on the same server, usually scratch databases);
 * labels name them in differences ('old migrations' / 'baseline'). Throws only when a database
 * cannot be read (connection, pg_dump); differences are data. The checks run one after the
 * other, so that each one's time is its own; each reads both sides at once.
 */
export async function compareDatabases(left: Settings, right: Settings, labels: Labels): Promise<Comparison[]> {
  return withClient(left, (lc) => withClient(right, async (rc) => {
    const sides = await Promise.all([side(left, labels[0], lc), side(right, labels[1], rc)]);
    let compared: SchemaComparison | undefined;
    return [
      await timed('structure', async () => {
        compared = await compareSchemas(lc, rc, { data: true });
        return structureResult(compared, labels);
      }),
      await timed('contract', () => compareWithContract([lc, rc], sides, compared!, labels)),
      await timed('pg_dump --schema-only', () => compareDumps(sides, compared!.rewrites)),
    ];
  }));
}

async function timed(check: string, work: () => Promise<Result>): Promise<Comparison> {
  const started = performance.now();
  const result = await work();
  return { check, ...result, ms: Math.round(performance.now() - started) };
}

async function side(settings: Settings, label: string, client: Client): Promise<Side> {
  const { rows: [r] } = await client.query(`SELECT quote_ident(pg_get_userbyid(datdba)) AS owner, quote_ident(datname) AS database,
      current_setting('server_version_num')::int / 10000 AS major FROM pg_database WHERE datname = current_database()`);
  return { settings, label, owner: r.owner, database: r.database, serverMajor: r.major };
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

// ---- 1. structure: the reader's picture of each side, each as the other's expectation ----

/** The same difference seen from the other side. */
const flip = (d: Difference): Difference => ({
  ...d, kind: d.kind === 'missing' ? 'unexpected' : d.kind === 'unexpected' ? 'missing' : 'changed', expected: d.actual, actual: d.expected,
});

export interface SchemaComparison {
  /** The left side as read, and the right as read with its expressions written the left's way where they mean the same. */
  left: LiveSchema;
  right: LiveSchema;
  /** The right side as read. */
  rightAsRead: LiveSchema;
  /** What differs, the left side taken as the expected one. */
  differences: Difference[];
  /** The right side's expressions that reconcileExpressions wrote the left's way. */
  rewrites: Rewrite[];
}

/** What the database's owner does not own, as items: `owner of table public.x` -> its owner. */
const ownersOf = async (c: Client) => new Map((await misownedObjects(c)).map((m) => [`owner of ${m.item}`, m.owner]));
const DATABASE_OWNER = "the database's owner";

/**
 * The one comparison of two databases' schemas, the squash's proof and the carry-forward alike:
 * both read by readSchema in the same scope (with `data`, the rows and sequence states too),
 * CHECKs, defaults and indexes compared by meaning, diffSchema run both ways (it takes its
 * first argument as the expectation and overlooks extensions only the second has), and the
 * owners of what the database's owner does not own.
 */
export async function compareSchemas(left: Client, right: Client, scope: { data: boolean }): Promise<SchemaComparison> {
  const [l, raw] = await Promise.all([readSchema(left, scope), readSchema(right, scope)]);
  // Written the left's way where PostgreSQL's text differs but the meaning does not (expressions.ts).
  const r = await reconcileExpressions(right, l, raw);
  const [lo, ro] = await Promise.all([ownersOf(left), ownersOf(right)]);
  const owners = [...new Set([...lo.keys(), ...ro.keys()])].filter((item) => lo.get(item) !== ro.get(item))
    .map((item): Difference => ({ group: 'database', kind: 'changed', item, expected: lo.get(item) ?? DATABASE_OWNER, actual: ro.get(item) ?? DATABASE_OWNER }));
  const seen = new Set<string>();
  const differences = [...diffSchema(l, r), ...diffSchema(r, l).map(flip), ...owners].filter((d) => {
    const key = JSON.stringify([d.group, d.kind, d.item, d.expected, d.actual]);
    return !seen.has(key) && seen.add(key);
  }).sort((a, b) => Number(a.group !== 'database') - Number(b.group !== 'database')); // what belongs to no table first, as diffSchema does
  return { left: l, right: r, rightAsRead: raw, differences, rewrites: rewritesOf(raw, r) };
}

function structureResult(c: SchemaComparison, labels: Labels): Result {
  const lines = new Set(c.differences.map((d) => describeDifference(d, labels)));
  const { left } = c;
  const tables = left.tables;
  const rows = Object.values(left.data?.rows ?? {}).reduce((n, r) => n + r.count, 0);
  const covered = [count(tables.length, 'table'), count(tables.reduce((n, t) => n + t.columns.length, 0), 'column'),
    count(tables.reduce((n, t) => n + Object.keys(t.constraints).length, 0), 'constraint'),
    plural(tables.reduce((n, t) => n + Object.keys(t.indexes).length, 0), 'index', 'indexes'),
    count(Object.keys(left.enums).length, 'enum'), count(left.hypertables.length, 'hypertable'), plural(left.policies.length, 'policy', 'policies'),
    count(Object.keys(left.views).length + Object.keys(left.materializedViews).length, 'view'), count(Object.keys(left.functions).length, 'function'),
    count(Object.keys(left.sequences).length, 'sequence'), `${count(rows, 'row')} of seed data`, count(left.others.length, 'other object')].join(', ');
  const notes = c.rewrites.map((w) => `${w.item}: the same by meaning, written ${w.from} in ${labels[1]} (PostgreSQL deparses it so after a reparse)`);
  return notes.length ? { covered, differences: [...lines], notes } : { covered, differences: [...lines] };
}

/** An expression of the right side's, and the left's text that means the same. */
interface Rewrite {
  item: string;
  from: string;
  to: string;
}

/** What reconcileExpressions rewrote: each CHECK, default and index whose text it gave the left's. */
function rewritesOf(raw: LiveSchema, reconciled: LiveSchema): Rewrite[] {
  return raw.tables.flatMap((t) => {
    const r = reconciled.tables.find((x) => x.name === t.name)!;
    const pairs = [
      ...t.columns.map((c, i) => [`${t.name}: default of ${c.name}`, c.default, r.columns[i].default]),
      ...Object.entries(t.constraints).map(([n, d]) => [`${t.name}: constraint ${n}`, d, r.constraints[n]]),
      ...Object.entries(t.indexes).map(([n, d]) => [`${t.name}: index ${n}`, d, r.indexes[n]]),
    ] as Array<[string, string | undefined, string | undefined]>;
    return pairs.filter(([, from, to]) => from !== undefined && to !== undefined && from !== to).map(([item, from, to]) => ({ item, from: from!, to: to! }));
  });
}

// ---- 2. the contract: each side against db/contract.ts ----

/**
 * Each side as db:verify sees it, but for which migrations are recorded as applied: the
 * baseline records itself as one migration by design. A difference from the contract that
 * both sides have alike (the contract out of date) is a note, not a difference of the proof:
 * the two databases still agree, and db:verify says the rest when the baseline is used.
 */
async function compareWithContract(clients: [Client, Client], sides: Side[], compared: SchemaComparison, labels: Labels): Promise<Result> {
  const against = (label: string): Labels => ['db/contract.ts', label];
  // Each side's picture as the structure check read it, without the rows the contract has no place for.
  const read = async (i: number, live: LiveSchema) => {
    const report = await verifyOn(clients[i], sides[i].settings.database, { read: { ...live, data: undefined } });
    // Keyed by the line with a neutral name for the side, so that the two sides' lines can be matched.
    return new Map(report.differences.filter((d) => d.group !== 'migrations').map((d) => [describeDifference(d, against('the database')), d]));
  };
  const [l, r] = await Promise.all([read(0, compared.left), read(1, compared.rightAsRead)]);
  const only = (mine: Map<string, Difference>, theirs: Map<string, Difference>, label: string) =>
    [...mine].filter(([key]) => !theirs.has(key)).map(([, d]) => describeDifference(d, against(label)));
  const differences = [...only(l, r, labels[0]), ...only(r, l, labels[1])];
  const notes = [...l].filter(([key]) => r.has(key)).map(([, d]) => describeDifference(d, against(`both ${labels[0]} and ${labels[1]}`)));
  const each = l.size === r.size ? count(l.size, 'difference') : `${l.size} and ${r.size} differences`;
  const covered = `db/contract.ts against each side: ${each} from it${notes.length ? `, ${notes.length} the same on both sides (notes)` : ''}`;
  return notes.length ? { covered, differences, notes } : { covered, differences };
}

// ---- 3. pg_dump --schema-only, as text ----

/**
 * Left out of the dump: knex's bookkeeping tables (the baseline records itself differently; the
 * rest of knex's schema is the migrations' as much as public is), and `_timescaledb_internal`,
 * where TimescaleDB keeps chunks and other tables derived from a hypertable, named by catalog ids
 * (`_hyper_3_7_chunk`) that differ between two builds that create, or drop, in another order; the
 * structure check compares what they derive from, by name. Objects an extension owns (its
 * `_timescaledb_*` schemas and functions) pg_dump leaves out by itself, writing CREATE
 * EXTENSION instead, so both sides show the same line and nothing else.
 */
const DUMP_EXCLUDES = [...BOOKKEEPING_RELATIONS.map((t) => `--exclude-table=${escapeIdentifier(MIGRATIONS_SCHEMA)}.${escapeIdentifier(t)}`),
  `--exclude-schema=${escapeIdentifier('_timescaledb_internal')}`];

async function compareDumps(sides: Side[], rewrites: Rewrite[]): Promise<Result> {
  const [l, raw] = await Promise.all(sides.map(async (s) => normaliseDump(await schemaOnlyDump(s), s)));
  // The structure check found these the same by meaning: the right's dump writes them the left's way too.
  const r = raw.map((line) => rewrites.reduce((text, w) => text.split(w.from).join(w.to), line));
  const differences = diffStatements(l, r, [sides[0].label, sides[1].label]);
  const covered = `${count(l.length, 'statement')} (knex's bookkeeping and _timescaledb_internal left out)`;
  return { covered, differences };
}

/** pg_dump --schema-only of the side's database, through the project's pg_dump (the password stays in its environment). */
async function schemaOnlyDump(side: Side): Promise<string> {
  const tool = chooseTool('pg_dump', side.serverMajor, side.settings.connection);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-compare-'));
  const file = path.join(dir, 'schema.sql');
  try {
    const messages: string[] = [];
    const args = ['--schema-only', ...DUMP_EXCLUDES];
    const code = await runTool(tool, side.settings.connection, args, { file, direction: 'write' }, (line) => messages.push(line));
    if (code !== 0) {
      throw new BackupFailedError(`pg_dump --schema-only of ${side.settings.database} failed (exit ${code}): ${messages.slice(0, 6).join(' | ') || 'no message'}`,
        'the comparison reads both databases with pg_dump; fix the cause above and run it again');
    }
    return fs.readFileSync(file, 'utf8');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The dump as statements, without what differs between two builds of one schema: comments and
 * blank lines, the session settings at its top (the same pg_dump writes the same ones), the random keys of `\restrict` (newer pg_dump),
 * 15.20's per-build stamps among a column's options,
 * and the database's own name and owner, which are each side's (a role other than the owner
 * still shows).
 */
export function normaliseDump(text: string, side: Pick<Side, 'owner' | 'database'>): string[] {
  const name = (n: string) => new RegExp(`(?<![\\w$"])${escapeRegExp(n)}(?![\\w$"])`, 'g');
  const [database, owner] = [name(side.database), name(side.owner)];
  const statements: string[] = [];
  let current: string[] = [];
  for (const raw of text.split('\n')) {
    if (raw.trim() === '' || raw.startsWith('--') || /^\\(un)?restrict /.test(raw)) continue;
    // Only the settings ahead of the first statement: a SET default_tablespace further down places a table.
    if (statements.length === 0 && current.length === 0 && (/^SET \w+ = /.test(raw) || raw.startsWith('SELECT pg_catalog.set_config('))) continue;
    if (isBuildStampOnly(raw)) continue;
    let line = withoutBuildStamps(raw).replace(database, '<database>');
    if (/ OWNER TO |^(GRANT|REVOKE|ALTER DEFAULT PRIVILEGES) /.test(line)) line = line.replace(owner, '<owner>');
    current.push(line);
    if (line.endsWith(';')) {
      statements.push(current.join('\n'));
      current = [];
    }
  }
  if (current.length) statements.push(current.join('\n'));
  return statements;
}

// pg_dump writes a column's attribute options as `ALTER TABLE ONLY t ALTER COLUMN c SET (a=1, b=2);`
// (a pg_dump older than the server writes 15.20's build stamps there too).
const COLUMN_OPTIONS = /^(ALTER TABLE ONLY .* ALTER COLUMN .* SET \()(.*)(\);)$/;
const stamp = new RegExp(`^(${BUILD_STAMP_OPTIONS.join('|')})=`);

/** A line of pg_dump's without the attribute options that are no schema (BUILD_STAMP_OPTIONS); '' where none is left. */
export function withoutBuildStamps(line: string): string {
  const m = COLUMN_OPTIONS.exec(line);
  if (!m) return line;
  const options = m[2].split(', ').filter((o) => !stamp.test(o));
  return options.length ? `${m[1]}${options.join(', ')}${m[3]}` : '';
}

const isBuildStampOnly = (line: string) => line !== '' && withoutBuildStamps(line) === '';

/** What `a` holds more often than `b`. */
function surplus(a: string[], b: string[]): string[] {
  const left = new Map<string, number>();
  for (const x of b) left.set(x, (left.get(x) ?? 0) + 1);
  return a.filter((x) => {
    const n = left.get(x) ?? 0;
    if (n > 0) left.set(x, n - 1);
    return n === 0;
  });
}

const firstLine = (statement: string) => statement.split('\n')[0];
const oneLine = (statement: string) => statement.replace(/\s*\n\s*/g, ' ');

/**
 * The statements of one side that the other lacks, as lines. A statement changed on both sides
 * (same first line: a CREATE TABLE with another column) is shown by the lines that differ.
 */
export function diffStatements(left: string[], right: string[], labels: Labels): string[] {
  const [onlyLeft, onlyRight] = [surplus(left, right), surplus(right, left)];
  const lines: string[] = [];
  for (const l of onlyLeft) {
    const i = onlyRight.findIndex((r) => firstLine(r) === firstLine(l) && l.includes('\n'));
    if (i < 0) {
      lines.push(`${oneLine(l)}: in ${labels[0]}, not in ${labels[1]}`);
      continue;
    }
    const [r] = onlyRight.splice(i, 1);
    const [ll, rl] = [l.split('\n'), r.split('\n')];
    const [lx, rx] = [surplus(ll, rl), surplus(rl, ll)];
    if (lx.length + rx.length === 0) lines.push(`${firstLine(l)} …: the same lines in another order in ${labels[0]} and ${labels[1]}`);
    for (const x of lx) lines.push(`${firstLine(l)} … ${x.trim()}: in ${labels[0]}, not in ${labels[1]}`);
    for (const x of rx) lines.push(`${firstLine(l)} … ${x.trim()}: in ${labels[1]}, not in ${labels[0]}`);
  }
  for (const r of onlyRight) lines.push(`${oneLine(r)}: in ${labels[1]}, not in ${labels[0]}`);
  return lines.length > MAX_DUMP_LINES
    ? [...lines.slice(0, MAX_DUMP_LINES - 1), `… and ${lines.length - MAX_DUMP_LINES + 1} more differing lines of pg_dump`]
    : lines;
}
