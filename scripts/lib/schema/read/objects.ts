// What the schemas in scope hold besides tables: enum types, views, materialized views,
// functions and sequences, each by name; and, by name only, what the contract has no place for
// (other types, aggregates, foreign tables), so that nothing goes unseen.
import { inScope, notBookkeeping, notFromExtension, qualifiedName, Query } from './scope';

export interface Objects {
  enums: Record<string, string[]>;
  views: Record<string, string>;
  materializedViews: Record<string, string>;
  functions: Record<string, string>;
  sequences: Record<string, string>;
  others: string[];
}

const record = (rows: Record<string, any>[]) => Object.fromEntries(rows.map((r) => [r.name, r.def]));

export async function readObjects(q: Query): Promise<Objects> {
  const enums: Record<string, string[]> = {};
  for (const r of await q(`SELECT ${qualifiedName('n.nspname', 't.typname')} AS name, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
      FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid
      WHERE ${inScope('t.typnamespace')} AND ${notFromExtension('pg_type', 't.oid')} GROUP BY 1 ORDER BY 1`)) {
    enums[r.name] = r.labels;
  }
  const relations = (relkind: string) => q(`SELECT ${qualifiedName('n.nspname', 'c.relname')} AS name, pg_get_viewdef(c.oid) AS def
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = '${relkind}' AND ${inScope('c.relnamespace')} AND ${notFromExtension('pg_class', 'c.oid')} ORDER BY 1`);
  const functions = await q(`SELECT format('%s(%s)', ${qualifiedName('n.nspname', 'p.proname')}, pg_get_function_identity_arguments(p.oid)) AS name,
        pg_get_functiondef(p.oid) AS def
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE p.prokind IN ('f', 'p') AND ${inScope('p.pronamespace')} AND ${notFromExtension('pg_proc', 'p.oid')} ORDER BY 1`);
  // A serial column's sequence is named in its default, so it is read; an identity column's is the column's own.
  const sequences = await q(`SELECT ${qualifiedName('n.nspname', 'c.relname')} AS name,
        concat_ws(', ', format_type(s.seqtypid, NULL), 'start ' || s.seqstart, 'increment ' || s.seqincrement, 'min ' || s.seqmin,
          'max ' || s.seqmax, 'cache ' || s.seqcache, CASE WHEN s.seqcycle THEN 'cycle' END,
          (SELECT 'owned by ' || ${qualifiedName('tn.nspname', 't.relname')} || '.' || a.attname FROM pg_depend d
             JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace
             JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
            WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'a')) AS def
      FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE ${inScope('c.relnamespace')} AND ${notBookkeeping} AND ${notFromExtension('pg_class', 'c.oid')}
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'i')
      ORDER BY 1`);
  const others = (await q(`
      SELECT 'foreign table ' || ${qualifiedName('n.nspname', 'c.relname')} AS item FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind = 'f' AND ${inScope('c.relnamespace')} AND ${notFromExtension('pg_class', 'c.oid')}
      UNION ALL
      SELECT CASE p.prokind WHEN 'a' THEN 'aggregate ' ELSE 'window function ' END
             || format('%s(%s)', ${qualifiedName('n.nspname', 'p.proname')}, pg_get_function_identity_arguments(p.oid))
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
       WHERE p.prokind IN ('a', 'w') AND ${inScope('p.pronamespace')} AND ${notFromExtension('pg_proc', 'p.oid')}
      UNION ALL
      SELECT 'type ' || ${qualifiedName('n.nspname', 't.typname')} FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
       WHERE t.typtype IN ('b', 'c', 'd', 'r', 'm') AND t.typcategory <> 'A' AND ${inScope('t.typnamespace')}
         AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c') -- not a table's row type
         AND ${notFromExtension('pg_type', 't.oid')}
      ORDER BY 1`)).map((r) => r.item);
  return { enums, views: record(await relations('v')), materializedViews: record(await relations('m')), functions: record(functions), sequences: record(sequences), others };
}
