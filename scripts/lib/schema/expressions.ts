// Expressions compared by meaning, not by text. PostgreSQL's deparsed text of an expression
// is not stable across a dump and restore: a CHECK written as `x IN ('A', 'B')` on a varchar
// deparses as `(ARRAY['A'::character varying, …])::text[]`, and that text, parsed again,
// deparses as `ARRAY[('A'::character varying)::text, …]`. Both mean the same. So where the
// contract and the live database disagree on a CHECK, a default or an index, both texts are
// brought to a fixed point of PostgreSQL's own parse-and-deparse, on a temporary copy of the
// table's columns in a transaction that is rolled back, and compared then.
import type { Client } from 'pg';
import { escapeIdentifier } from 'pg';
import type { SchemaContract, TableContract } from '../../../db/contract';
import type { LiveSchema } from './introspect';
import { sqlName } from './read/scope';
import { INVALID_INDEX } from './read/tables';

type Kind = 'check' | 'default' | 'index';

interface Candidate {
  table: string;
  kind: Kind;
  /** The constraint or index name, or the column of a default. */
  name: string;
  expected: string;
  actual: string;
}

const PROBE = 'kapman_probe';
const SCRATCH = 'kapman_expression_scratch';

/** Items whose text differs where a difference of text may not be one of meaning. */
function candidates(expected: SchemaContract, live: LiveSchema): Candidate[] {
  const out: Candidate[] = [];
  for (const want of expected.tables) {
    const have = live.tables.find((t) => t.name === want.name);
    if (!have) continue;
    for (const c of want.columns) {
      const h = have.columns.find((x) => x.name === c.name);
      if (c.default !== undefined && h?.default !== undefined && h.default !== c.default) {
        out.push({ table: want.name, kind: 'default', name: c.name, expected: c.default, actual: h.default });
      }
    }
    for (const [name, def] of Object.entries(want.constraints)) {
      const h = have.constraints[name];
      if (h !== undefined && h !== def && def.startsWith('CHECK ') && h.startsWith('CHECK ')) {
        out.push({ table: want.name, kind: 'check', name, expected: def, actual: h });
      }
    }
    for (const [name, def] of Object.entries(want.indexes)) {
      const h = have.indexes[name];
      // An invalid index differs from a valid one whatever its text: no parse makes them alike.
      const invalid = (d: string) => d.startsWith(`${INVALID_INDEX} `);
      if (h !== undefined && h !== def && !invalid(h) && !invalid(def)) out.push({ table: want.name, kind: 'index', name, expected: def, actual: h });
    }
  }
  return out;
}

/** The text PostgreSQL makes of `text` once it has parsed it, on the scratch table. */
async function deparse(client: Client, kind: Kind, column: string, text: string): Promise<string> {
  const scratch = escapeIdentifier(SCRATCH);
  if (kind === 'check') {
    await client.query(`ALTER TABLE ${scratch} ADD CONSTRAINT ${PROBE} ${text}`);
    const { rows: [r] } = await client.query(
      `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = '${SCRATCH}'::regclass AND conname = '${PROBE}'`);
    await client.query(`ALTER TABLE ${scratch} DROP CONSTRAINT ${PROBE}`);
    return r.def;
  }
  if (kind === 'default') {
    await client.query(`ALTER TABLE ${scratch} ALTER COLUMN ${escapeIdentifier(column)} SET DEFAULT ${text}`);
    const { rows: [r] } = await client.query(`SELECT pg_get_expr(d.adbin, d.adrelid) AS def FROM pg_attrdef d
      JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
      WHERE d.adrelid = '${SCRATCH}'::regclass AND a.attname = $1`, [column]);
    await client.query(`ALTER TABLE ${scratch} ALTER COLUMN ${escapeIdentifier(column)} DROP DEFAULT`);
    return r.def;
  }
  // The contract writes an index as `[UNIQUE ]method (columns…)`: the tail of CREATE INDEX.
  const unique = text.startsWith('UNIQUE ');
  await client.query(`CREATE ${unique ? 'UNIQUE ' : ''}INDEX ${PROBE} ON ${scratch} USING ${unique ? text.slice(7) : text}`);
  const { rows: [r] } = await client.query(`SELECT x.indisunique, substring(pg_get_indexdef(x.indexrelid) from ' USING (.*)$') AS def
    FROM pg_index x WHERE x.indexrelid = '${PROBE}'::regclass`);
  await client.query(`DROP INDEX ${PROBE}`);
  return `${r.indisunique ? 'UNIQUE ' : ''}${r.def}`;
}

/** Parses and deparses until the text no longer changes (twice is enough in practice). */
async function fixedPoint(client: Client, c: Candidate, text: string): Promise<string> {
  let current = text;
  for (let round = 0; round < 5; round++) {
    const next = await deparse(client, c.kind, c.name, current);
    if (next === current) return current;
    current = next;
  }
  return current;
}

/**
 * `live`, with each CHECK, default and index that means what the contract's does given the
 * contract's text, so a plain text comparison then finds only real differences. Where no
 * scratch table can be made (no TEMP privilege, a standby), the texts are left as they are.
 */
export async function reconcileExpressions(client: Client, expected: SchemaContract, live: LiveSchema): Promise<LiveSchema> {
  const todo = candidates(expected, live);
  const same = new Set<Candidate>();
  if (todo.length) {
    await probing(client, async () => {
      for (const table of new Set(todo.map((c) => c.table))) {
        await client.query('SAVEPOINT kapman_table');
        try {
          await client.query(`CREATE TEMP TABLE ${escapeIdentifier(SCRATCH)} (LIKE ${sqlName(table, escapeIdentifier)})`);
        } catch {
          await client.query('ROLLBACK TO SAVEPOINT kapman_table');
          continue;
        }
        for (const c of todo.filter((x) => x.table === table)) {
          await probe(client, async () => {
            if (await fixedPoint(client, c, c.expected) === await fixedPoint(client, c, c.actual)) same.add(c);
          });
        }
        await client.query(`DROP TABLE ${escapeIdentifier(SCRATCH)}`);
      }
    });
  }
  const views = await reconcileViews(client, expected, live);
  if (same.size === 0) return { ...live, ...views };
  const tables = live.tables.map((t): TableContract => {
    const mine = [...same].filter((c) => c.table === t.name);
    if (mine.length === 0) return t;
    const pick = (kind: Kind, name: string) => mine.find((c) => c.kind === kind && c.name === name)?.expected;
    return {
      ...t,
      columns: t.columns.map((col) => (pick('default', col.name) === undefined ? col : { ...col, default: pick('default', col.name) })),
      constraints: Object.fromEntries(Object.entries(t.constraints).map(([n, d]) => [n, pick('check', n) ?? d])),
      indexes: Object.fromEntries(Object.entries(t.indexes).map(([n, d]) => [n, pick('index', n) ?? d])),
    };
  });
  return { ...live, ...views, tables };
}

/**
 * The views (and materialized views' queries) whose text differs but whose query means the
 * contract's, written the contract's way. Each text is made a temporary view in a transaction
 * rolled back, and PostgreSQL's deparse of the two compared.
 */
async function reconcileViews(client: Client, expected: SchemaContract, live: LiveSchema): Promise<Pick<LiveSchema, 'views' | 'materializedViews'>> {
  const result = { views: { ...live.views }, materializedViews: { ...live.materializedViews } };
  const todo = (['views', 'materializedViews'] as const).flatMap((field) => Object.entries(expected[field] ?? {})
    .filter(([name, text]) => live[field][name] !== undefined && live[field][name] !== text).map(([name, text]) => ({ field, name, text })));
  if (todo.length === 0) return result;
  const deparse = async (text: string) => {
    await client.query(`CREATE TEMP VIEW ${PROBE} AS ${text}`);
    const { rows: [r] } = await client.query(`SELECT pg_get_viewdef('${PROBE}'::regclass) AS def`);
    await client.query(`DROP VIEW ${PROBE}`);
    return r.def as string;
  };
  await probing(client, async () => {
    for (const v of todo) {
      await probe(client, async () => {
        if (await deparse(v.text) === await deparse(live[v.field][v.name])) result[v.field][v.name] = v.text;
      });
    }
  });
  return result;
}

/**
 * `work` in a transaction that is rolled back whatever happens. Inside the caller's transaction
 * (a reset verifies what it built before it commits), a savepoint: a ROLLBACK there would undo
 * the caller's work. Outside one, a transaction of its own. Where nothing temporary can be made
 * (no TEMP privilege, a standby), `work` stops and the texts are compared as they are.
 */
async function probing(client: Client, work: () => Promise<void>): Promise<void> {
  const nested = await client.query('SAVEPOINT kapman_reconcile').then(() => true, () => false);
  try {
    if (!nested) await client.query('BEGIN');
    await work();
  } catch {
    // Nothing temporary here: compare the texts.
  } finally {
    await client.query(nested ? 'ROLLBACK TO SAVEPOINT kapman_reconcile' : 'ROLLBACK').catch(() => undefined);
    if (nested) await client.query('RELEASE SAVEPOINT kapman_reconcile').catch(() => undefined);
  }
}

/** One comparison inside `probing`; a side that does not parse here (a column or table it names is gone) is a real difference. */
async function probe(client: Client, compare: () => Promise<void>): Promise<void> {
  await client.query('SAVEPOINT kapman_probe');
  try {
    await compare();
  } catch {
    // A real difference: left as it is.
  }
  await client.query('ROLLBACK TO SAVEPOINT kapman_probe');
}
