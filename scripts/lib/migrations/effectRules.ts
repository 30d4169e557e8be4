// The lint's rules on what a migration does, read from the schema the rehearsal saw just before
// and just after it (readStructure): the same finding however the SQL
// is written, plainly, in a DO block or an EXECUTE, in a function the migration calls, or by
// knex's schema builder. They speak only of tables that were on the target before the batch,
// which may hold rows (the target's statistics say how many); a table the migration, or the
// batch, created is empty when it runs, and never flagged.
import type { Structure } from '../schema/introspect';
import type { Finding } from './timescaleRules';

/** What the rules read of one rehearsed migration. */
export interface Effect {
  /** Its statements, as the rehearsal split them. */
  statements: string[];
  /** False where it runs outside a transaction (config.transaction = false). */
  inTransaction: boolean;
  before: Structure;
  after: Structure;
  /** The schema the batch started from: what the target has. */
  batchBefore: Structure;
  /** The target's row estimates (table -> rows; undefined where never analyzed). */
  rows: Record<string, number | undefined>;
  /** The target's name, for the messages. */
  database: string;
}

export interface EffectFinding extends Finding {
  /** The statement that did it (from 1), found by the names it writes; 0 when none names them. */
  statement: number;
  /** squawk's rules whose finding on that statement this one replaces (it says the same, with the catalog's facts). */
  replaces: string[];
}

/**
 * A plain table this big (the target's estimate) gets its index built CONCURRENTLY: a plain
 * CREATE INDEX blocks its writes until it is built, which took 0.63 s for a million rows of
 * one integer column here (2 s for three million), and longer for wider keys. Below it, the
 * wait is short enough for a migration's lock.
 */
export const BIG_TABLE_ROWS = 1_000_000;

/** The rules' names, as a silencing comment names them (two share a name with a rule on the statement's text). */
export const EFFECT_RULES = ['table-dropped', 'schema-dropped', 'timescaledb-index-on-populated-hypertable', 'index-on-big-table',
  'timescaledb-hypertable-rewrite', 'table-rewrite', 'not-null-with-scan', 'check-with-scan', 'column-retyped-by-rebuild'];

const INDEX_INSTEAD_HYPERTABLE = 'build it chunk by chunk: CREATE INDEX … WITH (timescaledb.transaction_per_chunk), in a migration of its own that runs outside a transaction '
  + '(export const config = { transaction: false }; docs/lint.md, "An index on a big table")';
const INDEX_INSTEAD_TABLE = 'CREATE INDEX CONCURRENTLY, in a migration of its own that runs outside a transaction '
  + '(export const config = { transaction: false }; docs/lint.md, "An index on a big table")';

const bare = (name: string) => name.slice(name.indexOf('.') + 1);
const escape = (word: string) => word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The first statement that writes every word of one of `words` (tried in order), preferring one `prefer` matches; 0 when none does. */
export function statementNaming(statements: string[], words: string[][], prefer?: RegExp): number {
  const names = (s: string, w: string) => new RegExp(`(^|[^\\w$])${escape(w)}($|[^\\w$])`, 'i').test(s);
  for (const set of words) {
    const hits = statements.flatMap((s, i) => (set.every((w) => names(s, w)) ? [i] : []));
    if (hits.length) return (hits.find((i) => prefer?.test(statements[i])) ?? hits[0]) + 1;
  }
  return 0;
}

export function effectFindings(e: Effect): EffectFinding[] {
  const out: EffectFinding[] = [];
  const was = e.batchBefore.storage;
  const before = e.before.storage;
  const after = e.after.storage;
  // On the target before the batch, and the same table when this migration starts (not built again by one before it in the batch).
  const existing = Object.keys(before).filter((t) => was[t]?.oid === before[t].oid);
  // How many rows the target holds in a table, by its statistics: `about 200 rows`.
  const estimate = (t: string) => {
    if (!(t in e.rows)) return 'none yet';
    const n = e.rows[t];
    return n === undefined ? 'rows not estimated (never analyzed)' : `about ${n.toLocaleString('en-US')} rows`;
  };
  const rowsOf = (t: string) => `${e.database} holds ${estimate(t)} in it, by its statistics`;
  const hypertable = (t: string) => [...e.before.hypertables, ...e.after.hypertables].some((h) => h.table === t);
  const tableOf = (picture: Structure, t: string) => picture.tables.find((x) => x.name === t);
  const add = (f: Omit<EffectFinding, 'statement'>, words: string[][], prefer?: RegExp) =>
    out.push({ ...f, statement: statementNaming(e.statements, words, prefer) });

  const droppedSchemas = e.before.schemas.filter((s) => !e.after.schemas.includes(s) && e.batchBefore.schemas.includes(s));
  for (const s of droppedSchemas) {
    const tables = existing.filter((t) => t.startsWith(`${s}.`));
    add({
      rule: 'schema-dropped',
      why: `schema ${s} is dropped${tables.length ? ` with its ${tables.length === 1 ? 'table' : 'tables'} and every row in them: ${tables.map((t) => `${t}, ${estimate(t)}`).join('; ')} (${e.database}, by its statistics)` : ''}`,
      instead: 'if what it held is kept elsewhere first (copied, or no longer needed), silence this with that reason; else keep the schema',
      replaces: ['ban-drop-table'],
    }, [[s]], /\bdrop\b/i);
  }
  for (const t of existing) {
    const now = after[t];
    const inDroppedSchema = droppedSchemas.some((s) => t.startsWith(`${s}.`));
    if (!now || now.oid !== before[t].oid) {
      if (!inDroppedSchema) {
        add({
          rule: 'table-dropped',
          why: `${t} is dropped${now ? ' and created again' : ''}, with every row it holds: ${rowsOf(t)}`,
          instead: 'if its rows are kept elsewhere first (copied, or no longer needed), silence this with that reason; to change the table, alter it, or build the new one beside it, copy the rows over and switch',
          replaces: ['ban-drop-table'],
        }, [[bare(t)]], /\bdrop\b/i);
      }
      if (now) retypedByRebuild(t, 'built again');
      continue;
    }
    const was_ = tableOf(e.before, t)!;
    const is = tableOf(e.after, t)!;
    const type = (cols: typeof was_.columns, name: string) => cols.find((c) => c.name === name)?.type;
    // A column dropped and added again under the same name (another attnum) is built anew, its rows' values too.
    const readded = Object.keys(now.columns).filter((c) => before[t].columns[c] !== undefined && before[t].columns[c] !== now.columns[c]);
    if (readded.length) retypedByRebuild(t, `given ${readded.join(', ')} again (dropped and added)`, readded);
    const altered = is.columns.filter((c) => !readded.includes(c.name) && type(was_.columns, c.name) !== undefined && type(was_.columns, c.name) !== c.type);
    if (now.filenode !== before[t].filenode) {
      const what = altered.length ? ` (${altered.map((c) => `${c.name}: ${type(was_.columns, c.name)} to ${c.type}`).join(', ')})` : '';
      add({
        rule: hypertable(t) ? 'timescaledb-hypertable-rewrite' : 'table-rewrite',
        why: `${hypertable(t) ? 'the hypertable ' : ''}${t} is rewritten${what}: every row${hypertable(t) ? ', in every chunk,' : ''} is copied under an ACCESS EXCLUSIVE lock, and reads and writes wait until it is done; ${rowsOf(t)}`,
        instead: altered.length
          ? 'add a new column of the new type, fill it in batches (by time range, chunk by chunk, on a hypertable), switch the readers to it, then drop the old column in a later migration'
          : 'a default that is not volatile (or none, and fill the column in batches) keeps the rows where they are; VACUUM FULL and CLUSTER belong to maintenance, not a migration',
        replaces: ['changing-column-type'],
      }, [[bare(t), ...altered.map((c) => c.name), 'type'], [bare(t), ...altered.map((c) => c.name)], [bare(t)]], /\balter\b|\bvacuum\b|\bcluster\b/i);
    }
    for (const c of is.columns) {
      const old = was_.columns.find((x) => x.name === c.name);
      if (!old || old.notNull || !c.notNull || readded.includes(c.name)) continue;
      // PostgreSQL skips the scan where a valid CHECK (c IS NOT NULL) already proves it.
      const proven = Object.values(was_.constraints).some((d) => !/NOT VALID$/.test(d) && new RegExp(`^CHECK \\(\\(?"?${escape(c.name)}"? IS NOT NULL\\)?\\)$`, 'i').test(d));
      if (proven) continue;
      add({
        rule: 'not-null-with-scan',
        why: `SET NOT NULL on ${t}.${c.name} reads every row to check it, under an ACCESS EXCLUSIVE lock: reads and writes wait until it is done; ${rowsOf(t)}`,
        instead: `ADD CONSTRAINT ${bare(t)}_${c.name}_not_null CHECK (${c.name} IS NOT NULL) NOT VALID; in a later migration VALIDATE CONSTRAINT it (it reads the rows without blocking writes), then SET NOT NULL (no scan: the CHECK proves it) and drop the CHECK`,
        replaces: ['adding-not-nullable-field'],
      }, [[bare(t), c.name, 'set', 'not', 'null'], [bare(t), c.name]], /set\s+not\s+null/i);
    }
    for (const [name, oid] of Object.entries(now.constraints)) {
      const def = is.constraints[name] ?? '';
      if (before[t].constraints[name] === oid || !/^CHECK /.test(def) || /NOT VALID$/.test(def)) continue;
      const checked = is.columns.map((c) => c.name).filter((c) => new RegExp(`\\b${escape(c)}\\b`).test(def));
      const added = checked.filter((c) => before[t].columns[c] === undefined);
      add({
        rule: 'check-with-scan',
        why: `the CHECK ${name} added to ${t} is checked against every row under an ACCESS EXCLUSIVE lock${added.length ? ` (though ${added.join(', ')}, added with it, holds only NULLs)` : ''}: reads and writes wait until it is done; ${rowsOf(t)}`,
        instead: `add it NOT VALID (ALTER TABLE ${bare(t)} ADD CONSTRAINT ${name} CHECK (…) NOT VALID: new rows are checked), then in a later migration ALTER TABLE ${bare(t)} VALIDATE CONSTRAINT ${name}: it reads the rows under a lock that lets reads and writes go on`,
        replaces: ['constraint-missing-not-valid'],
      }, [[name], [bare(t), 'check', ...checked], [bare(t), 'check']], /\bcheck\b/i);
    }
    for (const [index, oid] of Object.entries(now.indexes)) {
      if (before[t].indexes[index] === oid) continue;
      const at = statementNaming(e.statements, [[index], [bare(t), 'index'], [bare(t)]]);
      const sql = e.statements[at - 1] ?? '';
      if (hypertable(t)) {
        if (!e.inTransaction && /timescaledb\.transaction_per_chunk/i.test(sql)) continue;
        out.push({
          rule: 'timescaledb-index-on-populated-hypertable',
          why: `the index ${index} is built on the hypertable ${t} in one transaction: every chunk is indexed while inserts and updates on the whole hypertable (the daily ingest) wait for the last one; ${rowsOf(t)}`,
          instead: INDEX_INSTEAD_HYPERTABLE,
          replaces: ['require-concurrent-index-creation'],
          statement: at,
        });
      } else if ((e.rows[t] ?? 0) >= BIG_TABLE_ROWS) {
        if (!e.inTransaction && /\bconcurrently\b/i.test(sql)) continue;
        out.push({
          rule: 'index-on-big-table',
          why: `the index ${index} is built on ${t} without CONCURRENTLY: its writes wait until it is built; ${rowsOf(t)}`,
          instead: INDEX_INSTEAD_TABLE,
          replaces: ['require-concurrent-index-creation'],
          statement: at,
        });
      }
    }
  }
  return out;

  /** A table built again, or columns dropped and added again, whose columns now have other types: nothing said "ALTER … TYPE". */
  function retypedByRebuild(t: string, how: string, only?: string[]): void {
    const old = tableOf(e.before, t)!;
    const now = tableOf(e.after, t)!;
    const changed = now.columns.flatMap((c) => {
      const was = old.columns.find((x) => x.name === c.name);
      return was && was.type !== c.type && (!only || only.includes(c.name)) ? [`${c.name} ${was.type} to ${c.type}`] : [];
    });
    if (changed.length === 0) return;
    const first = changed[0].split(' ')[0];
    add({
      rule: 'column-retyped-by-rebuild',
      why: `${t} is ${how} with other column types (${changed.join(', ')}): what its readers and writers expect of it changes, and values copied over are cast (or lose their precision), though no ALTER … TYPE says so; ${rowsOf(t)}`,
      instead: 'if the new types are meant, silence this with the reason; else keep the types, or change them with ALTER COLUMN … TYPE … USING in a migration of its own, where the lint weighs the rewrite',
      replaces: [],
    }, [[bare(t), first], [bare(t)]], /\bcreate\b|\badd\b/i);
  }
}
