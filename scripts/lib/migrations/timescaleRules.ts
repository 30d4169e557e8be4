// The lint's TimescaleDB rules: what no Postgres linter knows, because it needs the catalog
// (which tables are hypertables, on which column) and whether the table may hold rows. Each
// rule reads one statement as the rehearsal captured it. The numbers in the reasons were
// measured on PostgreSQL 15 + TimescaleDB 2.19 with a 200,000-row hypertable shaped like ohlcv.

/** What the rules know about a table when the statement runs. */
export interface TableFacts {
  /** The hypertable's time (partitioning) column; undefined for a plain table. */
  timeColumn?: string;
  /** It existed before the linted migrations: in production it may hold years of rows. */
  mayHoldRows: boolean;
}

export interface Finding {
  /** The rule's name, as a silencing comment names it. */
  rule: string;
  /** Why it matters on a live table. */
  why: string;
  /** What to write instead. */
  instead?: string;
}

export interface TimescaleRule {
  name: string;
  /** The finding for one statement, or undefined when the rule has nothing to say. */
  check(statement: string, table: (name: string) => TableFacts | undefined): Finding | undefined;
  /** squawk's rules whose finding on the same statement this one replaces, on a hypertable. */
  replaces?: string[];
}

// A name as written: "quoted", or bare; with a schema or without.
const NAME = String.raw`(?:"(?:[^"]|"")+"|[\w$]+)(?:\s*\.\s*(?:"(?:[^"]|"")+"|[\w$]+))?`;

/** `public."ohlcv"` -> `ohlcv`: the rules speak of tables in public, as the schema does. */
export function bareName(written: string): string {
  const parts = written.match(/"(?:[^"]|"")+"|[^.\s]+/g) ?? [written];
  const last = parts[parts.length - 1];
  return last.startsWith('"') ? last.slice(1, -1).replace(/""/g, '"') : last.toLowerCase();
}

/** The columns of `(a, "b" DESC, lower(c))`: their names, expressions as written. */
function columnList(list: string): string[] {
  return list.split(',').map((c) => bareName(c.trim().split(/\s+/)[0]));
}

const CREATE_INDEX = new RegExp(String.raw`^\s*create\s+(unique\s+)?index\s+(concurrently\s+)?(?:if\s+not\s+exists\s+)?(?:${NAME}\s+)?on\s+(?:only\s+)?(${NAME})\s*(?:using\s+\w+\s*)?\(([^]*?)\)\s*([^]*)$`, 'i');
const ADD_KEY = new RegExp(String.raw`^\s*alter\s+table\s+(?:if\s+exists\s+)?(?:only\s+)?(${NAME})\s+add\s+(?:constraint\s+${NAME}\s+)?(unique|primary\s+key)\s*\(([^)]*)\)`, 'i');
const ALTER_TABLE = new RegExp(String.raw`^\s*alter\s+table\s+(?:if\s+exists\s+)?(?:only\s+)?(${NAME})\s+([^]*)$`, 'i');
const CREATE_HYPERTABLE = /create_hypertable\s*\(\s*'([^']+)'(?:::regclass)?\s*,\s*(?:by_range\s*\(\s*)?'([^']+)'/i;
const SET_INTERVAL = /set_chunk_time_interval\s*\(\s*'([^']+)'/i;
const PER_CHUNK = /timescaledb\.transaction_per_chunk/i;

const PER_CHUNK_HINT = 'CREATE INDEX … WITH (timescaledb.transaction_per_chunk) builds it one chunk at a time, each chunk locked only while '
  + 'it is indexed; it cannot run inside a transaction, and db:migrate runs the batch in one, so run it by hand (psql) before '
  + 'deploying, and write the migration with CREATE INDEX IF NOT EXISTS and the same name, so that it finds the index built';

export const TIMESCALE_RULES: TimescaleRule[] = [
  {
    name: 'timescaledb-unique-without-time-column',
    check(statement, table) {
      const index = CREATE_INDEX.exec(statement);
      const key = ADD_KEY.exec(statement);
      const [target, columns, kind] = index?.[1] ? [index[3], index[4], 'a unique index'] : key ? [key[1], key[3], `a ${key[2].toLowerCase()}`] : [];
      if (!target) return undefined;
      const time = table(bareName(target))?.timeColumn;
      if (!time || columnList(columns!).includes(time)) return undefined;
      return {
        rule: this.name,
        why: `${kind} on the hypertable ${bareName(target)} without its time column "${time}": TimescaleDB refuses it ("cannot create a unique index without the column used in partitioning"), since each chunk enforces uniqueness on its own rows only`,
        instead: `add "${time}" to the key, e.g. (${[...columnList(columns!), time].join(', ')})`,
      };
    },
  },
  {
    name: 'timescaledb-concurrent-index',
    replaces: ['require-concurrent-index-creation', 'ban-concurrent-index-creation-in-transaction'],
    check(statement, table) {
      const index = CREATE_INDEX.exec(statement);
      if (!index?.[2] || !table(bareName(index[3]))?.timeColumn) return undefined;
      return {
        rule: this.name,
        why: `CREATE INDEX CONCURRENTLY on the hypertable ${bareName(index[3])}: hypertables refuse it ("hypertables do not support concurrent index creation"), so the usual Postgres advice does not apply`,
        instead: PER_CHUNK_HINT,
      };
    },
  },
  {
    name: 'timescaledb-index-on-populated-hypertable',
    replaces: ['require-concurrent-index-creation'],
    check(statement, table) {
      const index = CREATE_INDEX.exec(statement);
      if (!index || index[2] || PER_CHUNK.test(index[5])) return undefined;
      const facts = table(bareName(index[3]));
      if (!facts?.timeColumn || !facts.mayHoldRows) return undefined;
      return {
        rule: this.name,
        why: `a plain CREATE INDEX on the hypertable ${bareName(index[3])}, which may hold rows: every chunk is indexed in one transaction that blocks inserts and updates on the whole hypertable (the daily ingest) until the last chunk is done`,
        instead: PER_CHUNK_HINT,
      };
    },
  },
  {
    name: 'timescaledb-hypertable-rewrite',
    replaces: ['changing-column-type'],
    check(statement, table) {
      const alter = ALTER_TABLE.exec(statement);
      const vacuum = /^\s*(vacuum\s*(?:\(\s*full[^)]*\)|full)|cluster)\s+(?:verbose\s+)?(\S+)/i.exec(statement);
      const target = alter?.[1] ?? vacuum?.[2];
      if (!target) return undefined;
      const facts = table(bareName(target));
      if (!facts?.timeColumn || !facts.mayHoldRows) return undefined;
      const rewrites = vacuum ? vacuum[1].replace(/\s+/g, ' ').toUpperCase()
        : /\balter\s+(?:column\s+)?\S+\s+(?:set\s+data\s+)?type\b/i.test(alter![2]) ? 'a column type change'
        : /\badd\s+(?:column\s+)?[^,]*\bdefault\s+[^,]*\b(gen_random_uuid|random|clock_timestamp|nextval|uuid_generate_v4)\s*\(/i.test(alter![2]) ? 'a column added with a volatile default'
        : /\bset\s+(access\s+method|tablespace)\b/i.test(alter![2]) ? 'a move to another access method or tablespace' : undefined;
      if (!rewrites) return undefined;
      return {
        rule: this.name,
        why: `${rewrites} rewrites every chunk of the hypertable ${bareName(target)} under an ACCESS EXCLUSIVE lock: reads and writes wait until it is done (0.71 s for 200,000 rows measured, so minutes at production size)`,
        instead: 'add a new column, fill it in batches by time range (chunk by chunk), switch the readers to it, then drop the old column in a later migration',
      };
    },
  },
  {
    name: 'timescaledb-create-hypertable-without-migrate-data',
    check(statement, table) {
      const create = CREATE_HYPERTABLE.exec(statement);
      if (!create || /migrate_data\s*=>\s*(true|'?t'?|on|1)\b/i.test(statement)) return undefined;
      const name = bareName(create[1]);
      if (!table(name)?.mayHoldRows) return undefined;
      return {
        rule: this.name,
        why: `create_hypertable on ${name}, which existed before these migrations and may hold rows: without migrate_data TimescaleDB refuses a table that is not empty, so a migration that passed on an empty development database fails in production`,
        instead: `create_hypertable('${name}', by_range('${create[2]}', …), migrate_data => true), knowing it moves every row into chunks under an exclusive lock; for a large table, create a new hypertable and copy the rows in by batches`,
      };
    },
  },
  {
    name: 'timescaledb-chunk-interval-change',
    check(statement, table) {
      const set = SET_INTERVAL.exec(statement);
      if (!set) return undefined;
      const name = bareName(set[1]);
      if (!table(name)?.mayHoldRows) return undefined;
      return {
        rule: this.name,
        why: `a new chunk interval for ${name} applies only to chunks created from now on: the existing chunks keep theirs, so reads see both sizes for as long as those chunks live`,
        instead: 'if that is meant, silence this with the reason; to re-chunk the existing rows, copy them into a new hypertable made with the interval',
      };
    },
  },
];

/** The hypertables a statement creates, with their time columns (for a rehearsal that stopped before reading the catalog). */
export function hypertableCreated(statement: string): { table: string; timeColumn: string } | undefined {
  const create = CREATE_HYPERTABLE.exec(statement);
  return create ? { table: bareName(create[1]), timeColumn: create[2] } : undefined;
}

/**
 * squawk's rules whose finding on `statement` ours replace: those of each TimescaleDB rule that
 * fires, and on any index of a hypertable squawk's advice to build it CONCURRENTLY, which
 * TimescaleDB refuses.
 */
export function squawkRulesReplaced(statement: string, table: (name: string) => TableFacts | undefined): Set<string> {
  const replaced = new Set(TIMESCALE_RULES.filter((rule) => rule.check(statement, table)).flatMap((rule) => rule.replaces ?? []));
  const index = CREATE_INDEX.exec(statement);
  if (index && table(bareName(index[3]))?.timeColumn) replaced.add('require-concurrent-index-creation');
  return replaced;
}
