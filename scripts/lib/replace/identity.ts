// What identifies a database beyond its contents: owner, encoding and locale, tablespace,
// connection limit, grants, comment, and the settings kept for it. A database built beside
// the target gets all of it before it takes the target's place.
import type { Client } from 'pg';
import { escapeIdentifier, escapeLiteral } from 'pg';

export interface AclEntry {
  grantor: string;
  /** null: PUBLIC. */
  grantee: string | null;
  privilege: 'CREATE' | 'CONNECT' | 'TEMPORARY';
  grantable: boolean;
}

export interface RoleSetting {
  /** null: ALTER DATABASE … SET; a role: ALTER ROLE … IN DATABASE … SET. */
  role: string | null;
  /** `name=value` entries, as pg_db_role_setting keeps them. */
  config: string[];
}

export interface DatabaseIdentity {
  oid: number;
  owner: string;
  encoding: string;
  collate: string;
  ctype: string;
  /** 'c' libc, 'i' ICU. */
  localeProvider: string;
  icuLocale: string | null;
  tablespace: string;
  connectionLimit: number;
  allowConnections: boolean;
  isTemplate: boolean;
  comment: string | null;
  /** null: the default privileges (no GRANT or REVOKE ever ran). */
  acl: AclEntry[] | null;
  settings: RoleSetting[];
}

export async function readIdentity(client: Client, database: string): Promise<DatabaseIdentity | undefined> {
  const { rows } = await client.query(`SELECT d.oid::int AS oid, pg_get_userbyid(d.datdba) AS owner,
      pg_encoding_to_char(d.encoding) AS encoding, d.datcollate AS collate, d.datctype AS ctype,
      d.datlocprovider AS "localeProvider", d.daticulocale AS "icuLocale", t.spcname AS tablespace,
      d.datconnlimit AS "connectionLimit", d.datallowconn AS "allowConnections", d.datistemplate AS "isTemplate",
      shobj_description(d.oid, 'pg_database') AS comment,
      CASE WHEN d.datacl IS NULL THEN NULL ELSE coalesce((
        SELECT json_agg(json_build_object('grantor', pg_get_userbyid(a.grantor),
                 'grantee', CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END,
                 'privilege', a.privilege_type, 'grantable', a.is_grantable) ORDER BY n)
          FROM aclexplode(d.datacl) WITH ORDINALITY a(grantor, grantee, privilege_type, is_grantable, n)), '[]') END AS acl,
      coalesce((SELECT json_agg(json_build_object('role', CASE WHEN s.setrole = 0 THEN NULL ELSE pg_get_userbyid(s.setrole) END,
                 'config', s.setconfig) ORDER BY s.setrole)
          FROM pg_db_role_setting s WHERE s.setdatabase = d.oid), '[]') AS settings
    FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace WHERE d.datname = $1`, [database]);
  return rows[0];
}

/** An empty database with the identity's owner, encoding, locale and tablespace (template0: nothing else leaks in). */
/** An empty database with the owner (and, of an existing database, encoding, locale and tablespace) given; template0, so nothing else leaks in. */
export async function createDatabaseLike(client: Client, database: string, id: Pick<DatabaseIdentity, 'owner'> | DatabaseIdentity): Promise<void> {
  const like = 'encoding' in id ? `ENCODING ${escapeLiteral(id.encoding)} LOCALE_PROVIDER ${id.localeProvider === 'i' ? 'icu' : 'libc'}
    LC_COLLATE ${escapeLiteral(id.collate)} LC_CTYPE ${escapeLiteral(id.ctype)}
    ${id.icuLocale ? `ICU_LOCALE ${escapeLiteral(id.icuLocale)}` : ''}
    ${id.tablespace === 'pg_default' ? '' : `TABLESPACE ${escapeIdentifier(id.tablespace)}`}` : ''; // naming pg_default needs a grant on it
  await client.query(`CREATE DATABASE ${escapeIdentifier(database)} WITH OWNER ${escapeIdentifier(id.owner)} TEMPLATE template0 ${like}`);
}

// Settings whose value is a list of names; pg_dump re-quotes these element by element too.
const LIST_SETTINGS = ['local_preload_libraries', 'search_path', 'session_preload_libraries', 'shared_preload_libraries',
  'temp_tablespaces', 'unix_socket_directories'];

/** `name=value` as kept in pg_db_role_setting, back into the `SET name TO …` of an ALTER. */
export function setClause(entry: string): string {
  const eq = entry.indexOf('=');
  const name = entry.slice(0, eq);
  const value = entry.slice(eq + 1);
  if (!LIST_SETTINGS.includes(name.toLowerCase())) return `SET ${escapeIdentifier(name)} TO ${escapeLiteral(value)}`;
  // The stored list quotes an element with double quotes when it needs them ("$user", public).
  const elements = [...value.matchAll(/\s*("(?:[^"]|"")*"|[^,]*)\s*(?:,|$)/g)]
    .map((m) => m[1]).filter((e, i, all) => e !== '' || i < all.length - 1)
    .map((e) => (e.startsWith('"') ? e.slice(1, -1).replace(/""/g, '"') : e));
  return `SET ${escapeIdentifier(name)} TO ${elements.map(escapeLiteral).join(', ')}`;
}

async function grantAcl(client: Client, database: string, owner: string, acl: AclEntry[]): Promise<void> {
  const db = escapeIdentifier(database);
  // Start from no privileges at all, then grant in the original order, which keeps the order of the list.
  await client.query(`REVOKE ALL ON DATABASE ${db} FROM PUBLIC, ${escapeIdentifier(owner)}`);
  const groups = new Map<string, { grantor: string; grantee: string | null; grantable: boolean; privileges: string[] }>();
  for (const e of acl) {
    const key = JSON.stringify([e.grantor, e.grantee, e.grantable]);
    if (!groups.has(key)) groups.set(key, { grantor: e.grantor, grantee: e.grantee, grantable: e.grantable, privileges: [] });
    groups.get(key)!.privileges.push(e.privilege);
  }
  for (const g of groups.values()) {
    // A superuser's or the owner's grant is recorded as the owner's; any other grantor grants as itself.
    const asGrantor = g.grantor !== owner;
    if (asGrantor) await client.query(`SET ROLE ${escapeIdentifier(g.grantor)}`);
    try {
      await client.query(`GRANT ${g.privileges.join(', ')} ON DATABASE ${db} TO ${g.grantee === null ? 'PUBLIC' : escapeIdentifier(g.grantee)}${g.grantable ? ' WITH GRANT OPTION' : ''}`);
    } finally {
      if (asGrantor) await client.query('RESET ROLE');
    }
  }
}

/** Gives `database` the identity's grants, settings, connection limit and comment. */
export async function applyIdentity(client: Client, database: string, id: DatabaseIdentity): Promise<void> {
  const db = escapeIdentifier(database);
  if (id.acl) await grantAcl(client, database, id.owner, id.acl);
  for (const s of id.settings) {
    const target = s.role === null ? `DATABASE ${db}` : `ROLE ${escapeIdentifier(s.role)} IN DATABASE ${db}`;
    for (const entry of s.config) await client.query(`ALTER ${target} ${setClause(entry)}`);
  }
  if (id.connectionLimit !== -1) await client.query(`ALTER DATABASE ${db} CONNECTION LIMIT ${Number(id.connectionLimit)}`);
  if (id.comment !== null) await client.query(`COMMENT ON DATABASE ${db} IS ${escapeLiteral(id.comment)}`);
}
