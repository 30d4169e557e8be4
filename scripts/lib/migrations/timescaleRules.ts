// The lint's TimescaleDB rules: what no Postgres linter knows, because it needs the catalog
// (which tables are hypertables, on which column, with what compression) and whether the table
// may hold rows. Each rule reads one statement as the rehearsal captured it (and each statement
// of a DO block's or function's body, and of an EXECUTE's string: statementsWithin). What
// TimescaleDB refuses or rewrites on a hypertable with compression enabled was read from 2.19's
// source (src/process_utility.c, tsl/src/compression/create.c); the numbers in the reasons
// were measured on PostgreSQL 15 + TimescaleDB 2.19 with a 200,000-row hypertable shaped like ohlcv.
import { withoutComments } from './statements';

/** What the rules know about a table when the statement runs. */
export interface TableFacts {
  /** The hypertable's time (partitioning) column; undefined for a plain table. */
  timeColumn?: string;
  /** It existed before the linted migrations: in production it may hold years of rows. */
  mayHoldRows: boolean;
  /** The hypertable has compression enabled (segment by, order by), when the migration starts. */
  compression?: { segmentBy: string; orderBy: string };
  /** It had compression enabled before the linted migrations: in production its older chunks may be compressed. */
  mayHoldCompressedChunks?: boolean;
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

/** `public."ohlcv"` -> `ohlcv`, `b4_1.t` -> `b4_1.t`: a table as written, named as the reader names it (the schema only outside public). */
export function tableName(written: string): string {
  const parts = (written.match(/"(?:[^"]|"")+"|[^.\s]+/g) ?? [written]).map((p) => (p.startsWith('"') ? p.slice(1, -1).replace(/""/g, '"') : p.toLowerCase()));
  return parts.length > 1 && parts[parts.length - 2] !== 'public' ? `${parts[parts.length - 2]}.${parts[parts.length - 1]}` : parts[parts.length - 1];
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
  + 'it is indexed; it cannot run inside a transaction, so put it in a migration of its own that says export const config = { transaction: false }: '
  + 'db:migrate runs that one alone, outside a transaction (docs/lint.md, "An index on a big table")';

export const TIMESCALE_RULES: TimescaleRule[] = [
  {
    name: 'timescaledb-unique-without-time-column',
    check(statement, table) {
      const index = CREATE_INDEX.exec(statement);
      const key = ADD_KEY.exec(statement);
      const [target, columns, kind] = index?.[1] ? [index[3], index[4], 'a unique index'] : key ? [key[1], key[3], `a ${key[2].toLowerCase()}`] : [];
      if (!target) return undefined;
      const time = table(tableName(target))?.timeColumn;
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
      if (!index?.[2] || !table(tableName(index[3]))?.timeColumn) return undefined;
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
      const facts = table(tableName(index[3]));
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
      const facts = table(tableName(target));
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
      const name = tableName(create[1]);
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
      const name = tableName(set[1]);
      if (!table(name)?.mayHoldRows) return undefined;
      return {
        rule: this.name,
        why: `a new chunk interval for ${name} applies only to chunks created from now on: the existing chunks keep theirs, so reads see both sizes for as long as those chunks live`,
        instead: 'if that is meant, silence this with the reason; to re-chunk the existing rows, copy them into a new hypertable made with the interval',
      };
    },
  },
  {
    name: 'timescaledb-compressed-type-change',
    check(statement, table) {
      const alter = ALTER_TABLE.exec(statement);
      const facts = alter ? table(tableName(alter[1])) : undefined;
      if (!facts?.compression || !/\balter\s+(?:column\s+)?\S+\s+(?:set\s+data\s+)?type\b/i.test(alter![2])) return undefined;
      return {
        rule: this.name,
        why: `a column type change on the hypertable ${bareName(alter![1])}, which has compression enabled: TimescaleDB refuses it ("operation not supported on hypertables that have compression enabled")`,
        instead: 'add a new column of the new type (a constant default or none), fill it chunk by chunk, switch the readers to it, then drop the old one; or decompress every chunk, turn compression off, change the type and turn it on again, knowing that rewrites them all',
      };
    },
  },
  {
    name: 'timescaledb-compressed-add-column',
    check(statement, table) {
      const alter = ALTER_TABLE.exec(statement);
      const facts = alter ? table(tableName(alter[1])) : undefined;
      if (!facts?.compression) return undefined;
      for (const action of topLevelList(alter![2])) {
        const add = /^add\s+(?:column\s+)?(?:if\s+not\s+exists\s+)?(?!constraint\b|primary\b|unique\b|check\b|foreign\b|exclude\b)("(?:[^"]|"")+"|[\w$]+)\s+([^]*)$/i.exec(action.trim());
        if (!add) continue;
        const refused = addColumnRefusal(add[2]);
        if (!refused) continue;
        return {
          rule: this.name,
          why: `a column added to the hypertable ${bareName(alter![1])}, which has compression enabled, ${refused}: TimescaleDB refuses it ("cannot add column with … to a hypertable that has compression enabled")`,
          instead: 'add the column without constraints, with a constant default (a literal: \'x\', 0, true) or none; fill it chunk by chunk if it needs other values, and enforce a rule on it in the application or a trigger on new rows',
        };
      }
      return undefined;
    },
  },
  {
    name: 'timescaledb-compressed-drop-column',
    check(statement, table) {
      const alter = ALTER_TABLE.exec(statement);
      const facts = alter ? table(tableName(alter[1])) : undefined;
      if (!facts?.compression) return undefined;
      const settingColumns = [facts.compression.segmentBy, facts.compression.orderBy].join(',').split(',')
        .map((c) => bareName(c.trim().split(/\s+/)[0] ?? '')).filter(Boolean);
      for (const action of topLevelList(alter![2])) {
        const drop = /^drop\s+(?:column\s+)?(?:if\s+exists\s+)?("(?:[^"]|"")+"|[\w$]+)/i.exec(action.trim());
        if (!drop || /^drop\s+(constraint|not\s+null|default|expression|identity)\b/i.test(action.trim())) continue;
        const column = bareName(drop[1]);
        if (!settingColumns.includes(column)) continue;
        return {
          rule: this.name,
          why: `${column} is dropped from the hypertable ${bareName(alter![1])}, whose compression segments or orders by it: TimescaleDB refuses it ("cannot drop orderby or segmentby column from a hypertable with compression enabled")`,
          instead: `first change the compression settings so that they no longer name ${column} (ALTER TABLE … SET (timescaledb.segmentby = …, timescaledb.orderby = …); chunks compressed before keep theirs until recompressed), then drop it`,
        };
      }
      return undefined;
    },
  },
  {
    name: 'timescaledb-compressed-unique',
    check(statement, table) {
      const index = CREATE_INDEX.exec(statement);
      const key = ADD_KEY.exec(statement);
      const target = index?.[1] ? index[3] : key?.[1];
      const facts = target ? table(tableName(target)) : undefined;
      if (!facts?.mayHoldCompressedChunks) return undefined;
      return {
        rule: this.name,
        why: `a unique index or key on the hypertable ${bareName(target!)}, whose older chunks may be compressed: TimescaleDB checks it by decompressing every compressed chunk in this one transaction, each chunk locked against writes meanwhile (transaction_per_chunk refuses UNIQUE), and from then on every insert into a compressed chunk decompresses the rows it might collide with`,
        instead: 'enforce uniqueness where rows come in (ON CONFLICT against the uncompressed chunks, or the loader), or build it while the hypertable has no compressed chunk yet; if it is meant, silence this with the reason',
      };
    },
  },
  {
    name: 'timescaledb-compressed-add-constraint',
    check(statement, table) {
      const alter = ALTER_TABLE.exec(statement);
      const facts = alter ? table(tableName(alter[1])) : undefined;
      if (!facts?.mayHoldCompressedChunks) return undefined;
      const added = topLevelList(alter![2]).map((a) => /^add\s+(?:constraint\s+\S+\s+)?(check|foreign\s+key|exclude)\b/i.exec(a.trim())).find(Boolean);
      if (!added) return undefined;
      return {
        rule: this.name,
        why: `a ${added[1].toUpperCase().replace(/\s+/, ' ')} constraint added to the hypertable ${bareName(alter![1])}, whose older chunks may be compressed: TimescaleDB refuses it once a chunk holds compressed data ("operation not supported on hypertables that have compressed data"), so it passes on an empty database and fails in production`,
        instead: 'decompress the chunks first (convert_to_rowstore), add it, and compress them again; or check new rows in the application or a trigger',
      };
    },
  },
  {
    name: 'timescaledb-deprecated-api',
    check(statement) {
      const text = withoutComments(statement).replace(/'(?:[^']|'')*'/g, "''"); // a name in a string is data, not a call
      const used = DEPRECATED.filter((d) => d.written.test(text));
      if (used.length === 0) return undefined;
      return {
        rule: this.name,
        why: `TimescaleDB 2.19 marks ${used.map((d) => d.name).join(', ')} deprecated, to be removed in its next major release`,
        instead: used.map((d) => `${d.name} -> ${d.instead}`).join('; '),
      };
    },
  },
];

/**
 * What TimescaleDB 2.19 marks deprecated (its 2.18 notice, the [DEPRECATED] marks of its SQL API,
 * and recompress_chunk since 2.14), each with what replaces it.
 */
const DEPRECATED: Array<{ name: string; written: RegExp; instead: string }> = [
  { name: 'add_compression_policy', written: /\badd_compression_policy\s*\(/i, instead: 'add_columnstore_policy' },
  { name: 'remove_compression_policy', written: /\bremove_compression_policy\s*\(/i, instead: 'remove_columnstore_policy' },
  { name: 'compress_chunk', written: /\bcompress_chunk\s*\(/i, instead: 'convert_to_columnstore' },
  { name: 'decompress_chunk', written: /\bdecompress_chunk\s*\(/i, instead: 'convert_to_rowstore' },
  { name: 'recompress_chunk', written: /\brecompress_chunk\s*\(/i, instead: 'convert_to_columnstore' },
  { name: 'hypertable_compression_stats', written: /\bhypertable_compression_stats\s*\(/i, instead: 'hypertable_columnstore_stats' },
  { name: 'chunk_compression_stats', written: /\bchunk_compression_stats\s*\(/i, instead: 'chunk_columnstore_stats' },
  { name: 'timescaledb_information.hypertable_compression_settings', written: /\bhypertable_compression_settings\b/i, instead: 'timescaledb_information.hypertable_columnstore_settings' },
  { name: 'timescaledb_information.chunk_compression_settings', written: /\bchunk_compression_settings\b/i, instead: 'timescaledb_information.chunk_columnstore_settings' },
  { name: 'timescaledb_information.compression_settings', written: /\btimescaledb_information\s*\.\s*compression_settings\b/i, instead: 'timescaledb_information.columnstore_settings' },
  { name: 'timescaledb.compress', written: /\b(?:timescaledb|tsdb)\.compress\b(?!_)/i, instead: 'timescaledb.enable_columnstore' },
  { name: 'timescaledb.compress_segmentby', written: /\b(?:timescaledb|tsdb)\.compress_segmentby\b/i, instead: 'timescaledb.segmentby' },
  { name: 'timescaledb.compress_orderby', written: /\b(?:timescaledb|tsdb)\.compress_orderby\b/i, instead: 'timescaledb.orderby' },
  { name: 'set_chunk_time_interval', written: /\bset_chunk_time_interval\s*\(/i, instead: 'set_partitioning_interval' },
  { name: "add_dimension(table, 'column', …)", written: /\badd_dimension\s*\(\s*[^,()]+,\s*'/i, instead: "add_dimension(table, by_hash('column', n)) or by_range('column', interval)" },
];

/** The items of a comma-separated list at the top level of `text` (commas inside parentheses or strings kept). */
function topLevelList(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = '';
  for (const token of text.match(/'(?:[^']|'')*'|"(?:[^"]|"")*"|[(),]|[^'"(),]+/g) ?? []) {
    if (token === ',' && depth === 0) {
      out.push(current);
      current = '';
      continue;
    }
    if (token === '(') depth += 1;
    if (token === ')') depth -= 1;
    current += token;
  }
  out.push(current);
  return out;
}

/**
 * Why TimescaleDB refuses a column added as `definition` (its type and what follows) to a
 * hypertable with compression enabled, or undefined when it takes it: it takes a default only
 * where it is a constant as written (a literal: no cast but to boolean, no function, no
 * CURRENT_TIMESTAMP), no constraint but NOT NULL, and NOT NULL only with such a default.
 */
function addColumnRefusal(definition: string): string | undefined {
  const d = definition.replace(/\s+/g, ' ');
  if (/\b(check|references|unique|primary key|generated|exclude)\b/i.test(d.replace(/'(?:[^']|'')*'/g, "''"))) return 'with a constraint (CHECK, REFERENCES, UNIQUE, PRIMARY KEY or an identity)';
  const dflt = /\bdefault\s+((?:'(?:[^']|'')*'|[^'\s]+)(?:::\s*[\w ."]+?)?)(?=\s+(?:not\s+null|null|constraint|collate)\b|\s*$)/i.exec(d);
  if (dflt && !isConstant(dflt[1])) return `with a default that is not a constant as written (${dflt[1].trim()})`;
  if (/\bnot null\b/i.test(d) && !dflt) return 'NOT NULL without a default';
  return undefined;
}

/** A default TimescaleDB reads as a constant: a literal, signed number, NULL, or a boolean (cast or not). */
function isConstant(expression: string): boolean {
  const e = expression.trim();
  if (/^(true|false)(\s*::\s*bool(ean)?)?$/i.test(e) || /^'(?:[^']|'')*'\s*::\s*bool(ean)?$/i.test(e)) return true;
  return /^('(?:[^']|'')*'|[+-]?\d+(\.\d+)?(e[+-]?\d+)?|null)$/i.test(e);
}

/** The hypertables a statement creates, with their time columns (for a rehearsal that stopped before reading the catalog). */
export function hypertableCreated(statement: string): { table: string; timeColumn: string } | undefined {
  const create = CREATE_HYPERTABLE.exec(statement);
  return create ? { table: tableName(create[1]), timeColumn: create[2] } : undefined;
}

/**
 * squawk's rules whose finding on `statement` ours replace: those of each TimescaleDB rule that
 * fires, and on any index of a hypertable squawk's advice to build it CONCURRENTLY, which
 * TimescaleDB refuses.
 */
export function squawkRulesReplaced(statement: string, table: (name: string) => TableFacts | undefined): Set<string> {
  const replaced = new Set(TIMESCALE_RULES.filter((rule) => rule.check(statement, table)).flatMap((rule) => rule.replaces ?? []));
  const index = CREATE_INDEX.exec(statement);
  if (index && table(tableName(index[3]))?.timeColumn) replaced.add('require-concurrent-index-creation');
  return replaced;
}
