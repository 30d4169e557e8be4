// `db:reset --in-place`: the empty baseline without dropping the database, for a role that
// owns it but may not create databases (a managed TimescaleDB: one database, an admin role).
// One transaction drops what the migrations made (every object in `public` that no extension
// owns, and knex's schema), applies the migrations and verifies; it commits only when the
// result is the contract with every table empty, so it is all or nothing. The database (its
// oid), owner, grants, settings and every extension stay: the platform's timescaledb and
// pg_stat_statements, and timescaledb even where 0001 made it (dropped, it could not be made
// again in the same session: its library stays loaded there).
import type { Client } from 'pg';
import { escapeIdentifier } from 'pg';
import { knexQueryable, prepareTransaction } from '../server/session';
import { MIGRATIONS_SCHEMA } from '../../../db/migrationSource';
import { refuseSystemDatabase } from '../server/admin';
import { connect } from '../server/connection';
import { PermissionDeniedError } from '../cli/errors';
import { onInterrupt } from '../cli/interrupt';
import { describeBlocker, MIGRATIONS_LOCK, watchBlockers, withLock } from '../server/lock';
import { count, log, step } from '../cli/log';
import { withMigrationTransaction, WithKnexOptions } from '../migrations/migrate';
import { Settings } from '../server/settings';
import { readIdentity } from './identity';
import { preflightProblem, readServerFacts, targetProblem } from './preflight';
import { printReplacePlan, replaceLockPlace, withReplaceLock } from './replace';

export interface InPlaceOptions {
  /** Print the plan and change nothing. */
  dryRun?: boolean;
  /** What the dry run says is done after the drops, one line each. */
  plan: string[];
  /** Reports each migration file. */
  reporter?: WithKnexOptions['reporter'];
  /** Another migrations folder (tests use temporary ones). */
  directory?: string;
  /** Inside the transaction, after the drops: apply the migrations and check the result (throw to roll it all back). */
  build(trx: import('knex').Knex.Transaction, client: Client): Promise<void>;
}

interface Droppable {
  /** DROP <kind> …: TABLE, VIEW, MATERIALIZED VIEW, FOREIGN TABLE, SEQUENCE, ROUTINE, TYPE, DOMAIN, SCHEMA. */
  kind: string;
  /** The object's name as SQL, qualified and quoted (routines with their argument types). */
  sql: string;
  owner: string;
  /** The connecting role may drop it (owns it, through membership, or is a superuser). */
  mayDrop: boolean;
}

// In the order they are dropped; CASCADE takes what depends on them (indexes, a column's sequence, chunks).
const KINDS = ['SCHEMA', 'MATERIALIZED VIEW', 'VIEW', 'FOREIGN TABLE', 'TABLE', 'SEQUENCE', 'ROUTINE', 'DOMAIN', 'TYPE'];
const NOT_FROM_EXTENSION = (catalog: string, oid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '${catalog}'::regclass AND d.objid = ${oid} AND d.deptype = 'e')`;

/** What an in-place reset drops: every object in public that no extension owns, and knex's schema. */
export async function objectsToDrop(c: Client): Promise<Droppable[]> {
  const { rows } = await c.query(`SELECT kind, sql, pg_get_userbyid(owner) AS owner, pg_has_role(session_user, owner, 'USAGE') AS "mayDrop" FROM (
      SELECT 'SCHEMA' AS kind, quote_ident(nspname) AS sql, nspowner AS owner FROM pg_namespace WHERE nspname = $1
      UNION ALL
      SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
             'public.' || quote_ident(c.relname), c.relowner
        FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
         AND NOT c.relispartition -- goes with its parent
         AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                           AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')) -- a column's sequence goes with its table
         AND ${NOT_FROM_EXTENSION('pg_class', 'c.oid')}
      UNION ALL
      SELECT 'ROUTINE', 'public.' || quote_ident(p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ')', p.proowner
        FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace AND ${NOT_FROM_EXTENSION('pg_proc', 'p.oid')}
      UNION ALL
      SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, 'public.' || quote_ident(t.typname), t.typowner
        FROM pg_type t WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('b', 'c', 'd', 'e', 'r') AND t.typcategory <> 'A'
         AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c') -- not a table's row type
         AND ${NOT_FROM_EXTENSION('pg_type', 't.oid')}) o
    ORDER BY kind, sql`, [MIGRATIONS_SCHEMA]);
  return rows;
}

/**
 * The DROP statements for `objects`, in an order that needs no dependency sorting; one object
 * each, as TimescaleDB refuses to drop a hypertable along with other objects.
 */
export function dropStatements(objects: Droppable[]): string[] {
  return KINDS.flatMap((kind) => objects.filter((o) => o.kind === kind).map((o) => `DROP ${kind} IF EXISTS ${o.sql} CASCADE`));
}

const label = (o: Droppable) => `${o.kind.toLowerCase()} ${o.sql}`;

/**
 * While the transaction runs, ends the sessions that hold (or queue ahead for) a lock it waits
 * for, as a normal reset ends every session on the target; one it may not end (another role's,
 * a prepared transaction) keeps it waiting at most --lock-timeout.
 */
function endBlockers(watcher: Client, pid: number): () => void {
  return watchBlockers(watcher, () => [pid], 100, async (b, first) => {
    // Only what this role may end: a failed pg_terminate_backend would abort the lock's transaction.
    const { rows } = await watcher.query(`SELECT pg_terminate_backend(a.pid) AS ended FROM pg_stat_activity a, pg_roles me, pg_roles r
        WHERE a.pid = $1 AND me.rolname = current_user AND r.oid = a.usesysid
          AND (me.rolsuper OR (NOT r.rolsuper AND (pg_has_role(me.oid, r.oid, 'MEMBER') OR pg_has_role(me.oid, 'pg_signal_backend', 'MEMBER'))))`, [b.pid]);
    if (!first) return;
    log(rows[0]?.ended ? `ended ${describeBlocker(b)}: it held a lock on what is dropped`
      : `waiting for ${describeBlocker(b)}, which this role may not end (at most --lock-timeout)`);
  });
}

export async function resetInPlace(settings: Settings, o: InPlaceOptions): Promise<{ owner: string; dropped: number }> {
  const target = settings.database;
  refuseSystemDatabase(target, 'reset');
  // The reset lock: a reset, restore or rollback --all of this database waits for this one, or
  // this one for it; and the migration lock: so does a db:migrate.
  return withReplaceLock(settings, await replaceLockPlace(settings), () => withLock(settings, MIGRATIONS_LOCK, `the migration lock of ${target}`, async (lock) => {
    const c = lock.client;
    const identity = (await readIdentity(c, target))!;
    refuseSystemDatabase(target, 'reset', identity.isTemplate);
    const owner = identity.owner;
    const problem = preflightProblem(await readServerFacts(c, owner), target, owner, true, true) ?? (await targetProblem(c, target, identity));
    if (problem) throw problem;
    const objects = await objectsToDrop(c);
    const refused = objects.filter((x) => !x.mayDrop);
    if (refused.length) {
      throw new PermissionDeniedError(`the connecting role may not drop ${refused.map((x) => `${label(x)} (owner ${x.owner})`).join(', ')}`,
        `connect as its owner, or have it dropped or given to ${owner} (ALTER … OWNER TO); nothing was changed`);
    }
    const extensions = (await c.query("SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1")).rows.map((r) => r.extname);
    if (o.dryRun) {
      printReplacePlan(settings, [`database ${target} (oid ${identity.oid}, owner ${owner}) is kept; in one transaction, committed only if it verifies:`], [
        objects.length ? `drop ${count(objects.length, 'object')}:` : 'drop nothing (public and knex are empty)',
        ...objects.map((x) => `  ${label(x)} (owner ${x.owner})`),
        ...o.plan,
      ], `kept: the database, its owner, grants and settings, and the extensions ${extensions.join(', ') || '(none)'}`);
      return { owner, dropped: 0 };
    }

    const client = await connect(settings);
    const forget = onInterrupt(async () => {
      await client.end().catch(() => undefined); // before COMMIT: the server rolls it all back
      log(`interrupted: ${target} is unchanged`);
    });
    try {
      await withMigrationTransaction(settings, { reporter: o.reporter, directory: o.directory, watcher: c, session: client }, async (trx) => {
        const q = knexQueryable(trx);
        await trx.raw('SET LOCAL ROLE NONE'); // drop as the connecting role, whose rights the preflight checked
        const { rows: [me] } = await client.query('SELECT pg_backend_pid() AS pid');
        const stopEnding = endBlockers(c, me.pid);
        try {
          await step(`${count(objects.length, 'object')} in public and knex's schema dropped (not committed yet)`, async () => {
            for (const sql of dropStatements(objects)) await trx.raw(sql);
          });
        } finally {
          stopEnding();
        }
        // From here as the owner, as a normal reset builds.
        await prepareTransaction(q, { asOwner: true, lockTimeoutMs: settings.lockTimeoutMs });
        await trx.raw(`CREATE SCHEMA ${escapeIdentifier(MIGRATIONS_SCHEMA)}`);
        await o.build(trx, client);
      });
      log(`committed: ${target} is the empty baseline (oid ${identity.oid}, owner ${owner}, extensions kept)`);
    } catch (err) {
      log(`nothing changed: ${target} is as it was (the transaction was rolled back)`);
      throw err;
    } finally {
      forget();
      await client.end().catch(() => undefined);
    }
    return { owner, dropped: objects.length };
  }));
}
