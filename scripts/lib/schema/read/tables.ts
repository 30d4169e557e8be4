// Tables of every schema in scope: columns with their attribute options, constraints, indexes,
// triggers and row-level security.
import type { ColumnContract, TableContract } from '../../../../db/contract';
import { inScope, notBookkeeping, notFromExtension, qualifiedName, Query } from './scope';

/**
 * The attribute options (ALTER COLUMN … SET (…)) that are not schema. PostgreSQL 15.20 stamps
 * every column with `pg_attver=N`, N differing between two builds of the same migrations: a
 * mark of the build, not of the schema. Every other option (n_distinct, …) is a choice a
 * migration made, and counts. Readers of pg_dump's text leave it out the same way (compare.ts).
 */
export const BUILD_STAMP_OPTIONS = ['pg_attver'];

/** `options` without the build stamps. */
export const schemaOptions = (options: string[] | null): string[] =>
  (options ?? []).filter((o) => !BUILD_STAMP_OPTIONS.includes(o.split('=')[0]));

/** How an index that is not valid (indisvalid false) begins: `INVALID UNIQUE btree (…)`. */
export const INVALID_INDEX = 'INVALID';

/**
 * An identity column's sequence, where it is not what a bare `GENERATED … AS IDENTITY` makes
 * (named `<table>_<column>_seq`, from 1 by 1 up to its type's largest, cache 1, no cycle), as
 * `name …, start …, increment …, min …, max …, cache …[, cycle]`; null otherwise.
 */
const IDENTITY_SEQUENCE = `(SELECT CASE WHEN NOT (sc.relname = c.relname || '_' || a.attname || '_seq' AND s.seqstart = 1 AND s.seqincrement = 1 AND s.seqmin = 1
      AND s.seqmax = CASE s.seqtypid WHEN 'int2'::regtype THEN 32767 WHEN 'int4'::regtype THEN 2147483647 ELSE 9223372036854775807 END
      AND s.seqcache = 1 AND NOT s.seqcycle)
    THEN concat_ws(', ', 'name ' || sc.relname, 'start ' || s.seqstart, 'increment ' || s.seqincrement, 'min ' || s.seqmin, 'max ' || s.seqmax,
      'cache ' || s.seqcache, CASE WHEN s.seqcycle THEN 'cycle' END) END
  FROM pg_depend dep JOIN pg_class sc ON sc.oid = dep.objid JOIN pg_sequence s ON s.seqrelid = sc.oid
  WHERE a.attidentity <> '' AND dep.classid = 'pg_class'::regclass AND dep.refobjid = c.oid AND dep.refobjsubid = a.attnum AND dep.deptype = 'i')`;

/** FROM and WHERE over the tables in scope: `c` is a table's pg_class row, `n` its schema; `from` joins what is read to `c`. */
const ofTables = (from = 'pg_class c', where = 'true') => `FROM ${from} JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p') AND ${inScope('c.relnamespace')} AND ${notBookkeeping} AND ${notFromExtension('pg_class', 'c.oid')} AND ${where}`;
const NAME = qualifiedName('n.nspname', 'c.relname');

export async function readTables(q: Query): Promise<TableContract[]> {
  const tables = new Map<string, TableContract>();
  for (const r of await q(`SELECT ${NAME} AS name, c.relrowsecurity, c.relforcerowsecurity ${ofTables()} ORDER BY 1`)) {
    const t: TableContract = { name: r.name, columns: [], constraints: {}, indexes: {} };
    if (r.relrowsecurity) t.rowSecurity = r.relforcerowsecurity ? 'forced' : 'enabled';
    tables.set(r.name, t);
  }
  const table = (name: string) => tables.get(name)!;
  for (const r of await q(`SELECT ${NAME} AS name, a.attname, format_type(a.atttypid, a.atttypmod) AS type,
        a.attnotnull, pg_get_expr(d.adbin, d.adrelid) AS dflt, a.attgenerated, a.attidentity, a.attoptions, ${IDENTITY_SEQUENCE} AS identity_sequence
      ${ofTables('pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum JOIN pg_class c ON c.oid = a.attrelid',
        'a.attnum > 0 AND NOT a.attisdropped')}
      ORDER BY 1, a.attnum`)) {
    const column: ColumnContract = { name: r.attname, type: r.type, notNull: r.attnotnull };
    if (r.attgenerated === 's') column.generated = r.dflt;
    else if (r.dflt !== null) column.default = r.dflt;
    if (r.attidentity) column.identity = r.attidentity === 'a' ? 'always' : 'by default';
    if (r.identity_sequence) column.identitySequence = r.identity_sequence;
    const options = schemaOptions(r.attoptions);
    if (options.length) column.options = options;
    table(r.name).columns.push(column);
  }
  for (const r of await q(`SELECT ${NAME} AS name, k.conname, pg_get_constraintdef(k.oid) AS def
      ${ofTables('pg_constraint k JOIN pg_class c ON c.oid = k.conrelid')} ORDER BY 1, 2`)) {
    table(r.name).constraints[r.conname] = r.def;
  }
  for (const r of await q(`SELECT ${NAME} AS name, i.relname AS index, x.indisunique, x.indisvalid,
        substring(pg_get_indexdef(x.indexrelid) from ' USING (.*)$') AS def
      ${ofTables('pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid')} ORDER BY 1, 2`)) {
    // An index a failed CREATE INDEX CONCURRENTLY left behind is in the catalog but neither used nor enforced.
    table(r.name).indexes[r.index] = `${r.indisvalid ? '' : `${INVALID_INDEX} `}${r.indisunique ? 'UNIQUE ' : ''}${r.def}`;
  }
  // TimescaleDB's own triggers on a hypertable call its functions, and are its business.
  for (const r of await q(`SELECT ${NAME} AS name, g.tgname, pg_get_triggerdef(g.oid) AS def
      ${ofTables('pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid', `NOT g.tgisinternal AND ${notFromExtension('pg_proc', 'g.tgfoid')}`)} ORDER BY 1, 2`)) {
    (table(r.name).triggers ??= {})[r.tgname] = r.def;
  }
  for (const r of await q(`SELECT ${NAME} AS name, p.polname,
        concat_ws(' ', 'AS', CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
          'FOR', CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
          'TO', (SELECT string_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r)) END, ', ' ORDER BY 1) FROM unnest(p.polroles) r),
          'USING (' || pg_get_expr(p.polqual, p.polrelid) || ')', 'WITH CHECK (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')') AS def
      ${ofTables('pg_policy p JOIN pg_class c ON c.oid = p.polrelid')} ORDER BY 1, 2`)) {
    (table(r.name).rowPolicies ??= {})[r.polname] = r.def;
  }
  return [...tables.values()];
}

/** Where a table's rows live, by the catalog's numbers: what tells a rebuild or a rewrite from an ALTER that kept them. */
export interface TableStorage {
  /** The table's oid: another one after a migration means it was dropped and created again. */
  oid: number;
  /** Its relfilenode: another one under the same oid means its rows were rewritten (a type change, VACUUM FULL, …), empty or not. */
  filenode: number;
  /** Each column's attnum: another one under the same name means it was dropped and added again. */
  columns: Record<string, number>;
  /** Each index's and constraint's oid: another one under the same name means it was built again. */
  indexes: Record<string, number>;
  constraints: Record<string, number>;
}

/**
 * The storage of every table in scope. Not schema (two builds number things apart), so never
 * compared between databases: only one database's before and after a migration (the lint).
 */
export async function readStorage(q: Query): Promise<Record<string, TableStorage>> {
  const storage: Record<string, TableStorage> = {};
  for (const r of await q(`SELECT ${NAME} AS name, c.oid::int8 AS oid, c.relfilenode::int8 AS filenode,
        (SELECT jsonb_object_agg(a.attname, a.attnum) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
        (SELECT jsonb_object_agg(i.relname, i.oid::int8) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = c.oid) AS indexes,
        (SELECT jsonb_object_agg(k.conname, k.oid::int8) FROM pg_constraint k WHERE k.conrelid = c.oid) AS constraints
      ${ofTables()} ORDER BY 1`)) {
    storage[r.name] = { oid: Number(r.oid), filenode: Number(r.filenode), columns: r.columns ?? {}, indexes: r.indexes ?? {}, constraints: r.constraints ?? {} };
  }
  return storage;
}
