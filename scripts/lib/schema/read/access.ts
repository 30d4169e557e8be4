// Who may do what, the comments on things, and the database's own settings: grants and default
// privileges (the owner's own rights left out: owning is checked apart; a function's EXECUTE
// revoked from PUBLIC is `function f() to PUBLIC: none`), comments on every
// object in scope, and ALTER DATABASE … SET.
import { inScope, notBookkeeping, notFromExtension, qualifiedName, Query } from './scope';

export interface Access {
  grants: Record<string, string>;
  comments: Record<string, string>;
  settings: Record<string, string>;
}

const RELATION_KIND = `CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence'
  WHEN 'f' THEN 'foreign table' WHEN 'i' THEN 'index' ELSE 'table' END`;
const RELATION = `${RELATION_KIND} || ' ' || ${qualifiedName('n.nspname', 'c.relname')}`;
const FUNCTION = `'function ' || format('%s(%s)', ${qualifiedName('n.nspname', 'p.proname')}, pg_get_function_identity_arguments(p.oid))`;
// The schemas, relations and functions in scope, found once per statement: each branch of the
// UNIONs below repeating the conditions cost a third more, planning most of it, on every read.
const SCOPE = `WITH ns AS MATERIALIZED (SELECT n.oid FROM pg_namespace n WHERE ${inScope('n.oid')}),
  rel AS MATERIALIZED (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relnamespace IN (SELECT oid FROM ns) AND ${notBookkeeping} AND ${notFromExtension('pg_class', 'c.oid')}),
  fn AS MATERIALIZED (SELECT p.oid FROM pg_proc p WHERE p.pronamespace IN (SELECT oid FROM ns) AND ${notFromExtension('pg_proc', 'p.oid')})`;
const inScopeSchema = 'n.oid IN (SELECT oid FROM ns)';
const inScopeRelation = 'c.oid IN (SELECT oid FROM rel)';
const inScopeFunction = 'p.oid IN (SELECT oid FROM fn)';

/** `object to grantee` -> privileges, from an ACL column of `from` (filtered by `where`); `*` marks WITH GRANT OPTION. */
const grantsOf = (object: string, acl: string, owner: string, from: string, where: string) => `
  SELECT ${object} || ' to ' || CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(x.grantee)) END AS item,
         string_agg(x.privilege_type || CASE WHEN x.is_grantable THEN '*' ELSE '' END, ', ' ORDER BY x.privilege_type) AS value
    FROM ${from}, aclexplode(${acl}) x WHERE x.grantee <> ${owner} AND ${where} GROUP BY 1`;

/** Comments on the objects of `from` (joined to pg_description `d` on `on`), filtered by `where`. */
const commentsOn = (object: string, from: string, where: string) => `
  SELECT ${object} AS item, d.description AS value FROM pg_description d JOIN ${from} WHERE ${where}`;

const DEFAULT_PRIVILEGES = `'default privileges of ' || quote_ident(pg_get_userbyid(a.defaclrole))
  || CASE WHEN a.defaclnamespace = 0 THEN '' ELSE ' in schema ' || a.defaclnamespace::regnamespace::text END || ' on '
  || CASE a.defaclobjtype WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences' WHEN 'f' THEN 'functions' WHEN 'T' THEN 'types' ELSE 'schemas' END`;

export async function readAccess(q: Query): Promise<Access> {
  const grants = await q(SCOPE + [
    grantsOf(RELATION, 'c.relacl', 'c.relowner', 'pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace', inScopeRelation),
    // Every database's public schema comes with USAGE for PUBLIC.
    grantsOf(`'schema ' || n.nspname`, 'n.nspacl', 'n.nspowner', 'pg_namespace n',
      `${inScopeSchema} AND NOT (n.nspname = 'public' AND x.grantee = 0 AND x.privilege_type = 'USAGE' AND NOT x.is_grantable)`),
    grantsOf(FUNCTION, 'p.proacl', 'p.proowner', 'pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace', inScopeFunction),
    grantsOf(DEFAULT_PRIVILEGES, 'a.defaclacl', '-1', 'pg_default_acl a', 'true'),
    // A function may be run by everyone unless that was revoked: then its ACL has no entry for PUBLIC.
    `SELECT ${FUNCTION} || ' to PUBLIC' AS item, 'none' AS value FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE ${inScopeFunction} AND p.proacl IS NOT NULL AND NOT EXISTS (SELECT 1 FROM aclexplode(p.proacl) x WHERE x.grantee = 0)`,
  ].join(' UNION ALL ') + ' ORDER BY 1');
  const comments = await q(SCOPE + [
    commentsOn(RELATION, `pg_class c ON c.oid = d.objoid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
      JOIN pg_namespace n ON n.oid = c.relnamespace`, inScopeRelation),
    commentsOn(`'column ' || ${qualifiedName('n.nspname', 'c.relname')} || '.' || a.attname`, `pg_class c ON c.oid = d.objoid
      AND d.classoid = 'pg_class'::regclass JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid AND d.objsubid > 0
      JOIN pg_namespace n ON n.oid = c.relnamespace`, inScopeRelation),
    // Every database's public schema comes with this comment.
    commentsOn(`'schema ' || n.nspname`, `pg_namespace n ON n.oid = d.objoid AND d.classoid = 'pg_namespace'::regclass`,
      `${inScopeSchema} AND NOT (n.nspname = 'public' AND d.description = 'standard public schema')`),
    commentsOn(FUNCTION, `pg_proc p ON p.oid = d.objoid AND d.classoid = 'pg_proc'::regclass JOIN pg_namespace n ON n.oid = p.pronamespace`,
      inScopeFunction),
    commentsOn(`'type ' || ${qualifiedName('n.nspname', 't.typname')}`, `pg_type t ON t.oid = d.objoid AND d.classoid = 'pg_type'::regclass
      JOIN pg_namespace n ON n.oid = t.typnamespace`, `t.typnamespace IN (SELECT oid FROM ns) AND ${notFromExtension('pg_type', 't.oid')}`),
    commentsOn(`'constraint ' || k.conname || ' on ' || ${qualifiedName('n.nspname', 'c.relname')}`, `pg_constraint k ON k.oid = d.objoid
      AND d.classoid = 'pg_constraint'::regclass JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace`, inScopeRelation),
    commentsOn(`'trigger ' || g.tgname || ' on ' || ${qualifiedName('n.nspname', 'c.relname')}`, `pg_trigger g ON g.oid = d.objoid
      AND d.classoid = 'pg_trigger'::regclass JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace`, inScopeRelation),
  ].join(' UNION ALL ') + ' ORDER BY 1');
  const settings = await q(`SELECT split_part(s.setting, '=', 1) AS item, substr(s.setting, strpos(s.setting, '=') + 1) AS value
      FROM pg_db_role_setting r JOIN pg_database db ON db.oid = r.setdatabase, unnest(r.setconfig) s(setting)
     WHERE db.datname = current_database() AND r.setrole = 0 ORDER BY 1`);
  const map = (rows: Record<string, any>[]) => Object.fromEntries(rows.map((r) => [r.item, r.value]));
  return { grants: map(grants), comments: map(comments), settings: map(settings) };
}
