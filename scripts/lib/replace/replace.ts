// The one pipeline for everything that replaces a database (reset, restore):
//   lock -> preflight -> build beside under a temporary name -> identity -> swap -> report.
// Until the swap nothing of the target is touched, and any failure or signal removes the
// build. The swap (drop the target, rename the build into its place) is the only
// destructive step; it takes milliseconds and is never left half-done.
import crypto from 'crypto';
import type { Client } from 'pg';
import { escapeIdentifier } from 'pg';
import { closeDatabase, currentUser, dropDatabase, renameDatabase, retrying, SYSTEM_DATABASES } from '../server/admin';
import { connect, withMaintenanceClient } from '../server/connection';
import { isPooled } from '../server/session';
import { KapmanError, PoolerError, RefusedTargetError, SwapFailedError } from '../cli/errors';
import { interrupted, isStopping, onInterrupt, uninterruptible } from '../cli/interrupt';
import { withLock } from '../server/lock';
import { log, step } from '../cli/log';
import { Settings, settingsForDatabase, urlForDatabase } from '../server/settings';
import { applyIdentity, createDatabaseLike, DatabaseIdentity, readIdentity } from './identity';
import { preflightProblem, serverFacts, targetProblem } from './preflight';

export interface ReplaceOptions {
  /** Print the plan and change nothing. */
  dryRun?: boolean;
  /** What the dry run says the build would do, one line each. */
  plan: string[];
  /** Fills the database built beside the target; it must leave it complete and checked. */
  build(beside: Settings): Promise<void>;
  /** Runs once the checks pass, before anything is created or dropped (a production reset's backup). */
  beforeBuild?(targetExists: boolean): Promise<void>;
  /** Synchronous work to do while the server creates the build database (loading code `build` needs). */
  whileCreating?(): void;
}

export interface ReplaceResult {
  owner: string;
}

/** Build databases of `target` start with this: a leftover of a killed run is known by it. */
export function buildPrefix(target: string): string {
  return `kapman_build_${crypto.createHash('md5').update(target).digest('hex').slice(0, 10)}_`;
}

/** The build's name once it is closed and proven free, just before the swap. */
function readyName(target: string): string {
  return `${buildPrefix(target)}ready`;
}

/** Removes what an interrupted run of this target left (the reset lock is held: no live run owns them). */
async function dropLeftovers(c: Client, target: string): Promise<void> {
  const { rows } = await c.query('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [buildPrefix(target)]);
  for (const { datname } of rows) {
    await dropDatabase(c, datname);
    log(`removed ${datname}, left by an interrupted reset of ${target}`);
  }
}

/**
 * Drops the target in the swap. DROP … WITH (FORCE) may not end a TimescaleDB scheduler for a
 * role that is not a superuser (the scheduler runs as no role), and the launcher may start one
 * on the target at any moment (another database's CREATE EXTENSION wakes it). The statement
 * stops the scheduler on its way and changes nothing when it fails, so it is tried again.
 */
async function dropTarget(c: Client, target: string): Promise<void> {
  const schedulerAttached = (e: { code?: string; message?: string }) => e.code === '42501' && /role whose process is being terminated/.test(e.message ?? '');
  await retrying(() => dropDatabase(c, target), schedulerAttached, 31, 100);
}

/**
 * Puts `build` in the place of `target`. Before the target is touched, the build is closed
 * to connections and renamed once, which proves nothing holds it (TimescaleDB stops its
 * scheduler there on a rename); then the drop and the final rename follow at once.
 */
async function swap(c: Client, build: string, target: string, targetExists: boolean, allowConnections: boolean): Promise<void> {
  const ready = readyName(target);
  await closeDatabase(c, build);
  await renameDatabase(c, build, ready);
  if (interrupted()) throw new KapmanError('interrupted before the swap');
  await uninterruptible(async () => {
    if (targetExists) await dropTarget(c, target);
    try {
      await renameDatabase(c, ready, target);
    } catch (err) {
      throw new SwapFailedError(`${target} was dropped, but renaming its replacement failed: ${(err as Error).message}`,
        `the new ${target} is complete in database ${ready}: ALTER DATABASE ${escapeIdentifier(ready)} RENAME TO ${escapeIdentifier(target)}, then ALLOW_CONNECTIONS true`);
    }
    if (allowConnections) await c.query(`ALTER DATABASE ${escapeIdentifier(target)} ALLOW_CONNECTIONS true`);
  });
}

/** TimescaleDB's jobs stopped for the rename; only a superuser may start them again. */
async function restartTimescaleWorkers(settings: Settings): Promise<void> {
  const client = await connect(settings.url).catch(() => undefined);
  if (!client) return;
  try {
    const { rows: [r] } = await client.query(`SELECT rolsuper AS super FROM pg_roles WHERE rolname = current_user`);
    if (r.super) await client.query('SELECT _timescaledb_functions.start_background_workers()');
  } catch {
    // Jobs are not part of the baseline; a server restart starts them too.
  } finally {
    await client.end().catch(() => undefined);
  }
}

function printPlan(settings: Settings, identity: DatabaseIdentity | undefined, owner: string, plan: string[]): void {
  const target = settings.database;
  log(`plan (dry run, nothing changed): server ${settings.displayUrl}`);
  log(`database ${target} ${identity ? `exists, owner ${owner}` : `does not exist; would be created, owner ${owner}`}`);
  log(`would build the new ${target} beside it as ${buildPrefix(target)}…, owned by ${owner}:`);
  for (const line of plan) log(`  ${line}`);
  log(identity
    ? `then give it ${target}'s encoding, locale, grants, settings, connection limit and comment, and swap it in (drop the old ${target}, ending its sessions)`
    : `then rename it to ${target}`);
}

export async function replaceDatabase(settings: Settings, o: ReplaceOptions): Promise<ReplaceResult> {
  const target = settings.database;
  if (SYSTEM_DATABASES.includes(target)) {
    throw new RefusedTargetError(`refusing to reset the system database "${target}"`, 'point DATABASE_URL (or --env) at a KapMan database, e.g. kapman_dev');
  }
  return withMaintenanceClient(settings.url, (admin) => {
    // The swap needs a session of its own (CREATE/DROP DATABASE, ALTER DATABASE, the lock).
    if (isPooled(admin)) {
      throw new PoolerError(`${settings.displayUrl} goes through a connection pooler: a reset creates and drops databases, which needs a direct connection`,
        "use the server's direct address and port in DATABASE_URL (e.g. 5432, not the pooler's 6432), or npm run db:reset -- --in-place; nothing was changed");
    }
    return withLock(urlForDatabase(settings.url, admin.database!), `reset ${target}`,
      `the reset lock of ${target}`, settings.lockTimeoutMs, async () => {
      const identity = await readIdentity(admin, target);
      if (identity?.isTemplate) {
        throw new RefusedTargetError(`refusing to reset "${target}": it is a template database`, 'point DATABASE_URL at a KapMan database');
      }
      const owner = identity?.owner ?? (await currentUser(admin));
      const problem = preflightProblem(await serverFacts(admin, owner), target, owner, Boolean(identity))
        ?? (identity ? await targetProblem(admin, target, identity) : undefined);
      if (problem) throw problem;
      if (o.dryRun) {
        printPlan(settings, identity, owner, o.plan);
        return { owner };
      }

      if (o.beforeBuild) await o.beforeBuild(Boolean(identity));
      await dropLeftovers(admin, target);
      const build = `${buildPrefix(target)}${crypto.randomBytes(3).toString('hex')}`;
      const removeBuild = async () => {
        for (const name of [build, readyName(target)]) {
          await dropDatabase(admin, name).catch(() => log(`could not remove ${name}; the next reset of ${target} removes it`));
        }
      };
      const forgetCleanup = onInterrupt(async () => {
        await removeBuild();
        log(`interrupted: ${target} is unchanged`);
      });
      try {
        await step(`database ${build} created beside ${target}, owner ${owner}`,
          () => {
            const created = createDatabaseLike(admin, build, identity ?? { owner });
            o.whileCreating?.();
            return created;
          });
        await o.build(settingsForDatabase(settings, build));
        if (identity) await step(`${target}'s grants, settings, limit and comment copied`, () => applyIdentity(admin, build, identity));
        await step(`swapped into place: ${target}`, () => swap(admin, build, target, Boolean(identity), identity?.allowConnections ?? true));
      } catch (err) {
        if (isStopping()) await new Promise(() => undefined); // the signal handler cleans up and exits
        if (err instanceof SwapFailedError) throw err; // the build holds the only copy now: keep it
        await removeBuild();
        log(`nothing changed: ${target} is as it was`);
        throw err;
      } finally {
        forgetCleanup();
      }
      await restartTimescaleWorkers(settings);
      return { owner };
    });
  });
}
