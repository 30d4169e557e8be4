// The one pipeline for everything that replaces a database (reset, restore):
//   lock -> preflight -> build beside under a temporary name -> identity -> swap -> report.
// Until the swap nothing of the target is touched, and any failure or signal removes the
// build. The swap (drop the target, rename the build into its place, open it) is the only
// destructive step; it takes milliseconds, and if it stops part-way it says what it left.
import crypto from 'crypto';
import type { Client } from 'pg';
import { escapeIdentifier } from 'pg';
import { closeDatabase, currentUser, dropDatabase, refuseSystemDatabase, renameDatabase } from '../server/admin';
import { connect, withMaintenanceClient } from '../server/connection';
import { isPooled } from '../server/session';
import { KapmanError, PoolerError, SwapFailedError } from '../cli/errors';
import { interrupted, isStopping, onInterrupt, uninterruptible } from '../cli/interrupt';
import { acquireLock, HeldLock, withLock } from '../server/lock';
import { log, step } from '../cli/log';
import { Settings, settingsForDatabase } from '../server/settings';
import { applyIdentity, createDatabaseLike, readIdentity } from './identity';
import { preflightProblem, readServerFacts, targetProblem } from './preflight';

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

/** How far a swap got: each step is recorded as it completes, for what a failure must report. */
type SwapProgress = 'target untouched' | 'target dropped' | 'replacement renamed' | 'done';

/**
 * What a swap stopped after the drop (of a new target: after the rename) left on the server, read afresh on a new session (the
 * swap's own may be the one that broke), as a SwapFailedError saying it and how to finish.
 */
async function swapFailure(settings: Settings, ready: string, progress: SwapProgress, targetExisted: boolean, cause: Error): Promise<SwapFailedError | undefined> {
  const target = settings.database;
  const [t, r] = [escapeIdentifier(target), escapeIdentifier(ready)];
  const open = `ALTER DATABASE ${t} ALLOW_CONNECTIONS true`;
  const finish = `ALTER DATABASE ${r} RENAME TO ${t}; ${open}`;
  const as = ' (as its owner or a superuser, connected to another database, e.g. postgres)';
  const why = `the swap stopped after ${progress === 'target dropped' ? 'the drop of the old one' : 'the rename'}: ${cause.message}`;
  const dropped = targetExisted ? `; the old ${target} was dropped` : '';
  const lead = targetExisted ? `the old ${target} was dropped` : `${target} was being created`;
  let state: Array<{ datname: string; open: boolean }>;
  try {
    state = await withMaintenanceClient(settings, async (c) => (await c.query(
      'SELECT datname, datallowconn AS open FROM pg_database WHERE datname = ANY($1)', [[target, ready]])).rows);
  } catch (err) {
    return new SwapFailedError(`${lead} and the server could not be asked where its replacement is (${(err as Error).message}); ${why}`,
      `the replacement is complete, closed to connections, in ${ready} or already in ${target}: if ${ready} exists run ${finish}; else ${open}${as}`, { cause });
  }
  const here = (name: string) => state.find((d) => d.datname === name);
  if (here(target)?.open && !here(ready)) {
    log(`the connection broke at the end of the swap, but ${target} is in place and open (${cause.message})`);
    return undefined;
  }
  if (here(target)) {
    return new SwapFailedError(`${target} holds its replacement, complete, but is closed to connections${dropped}; ${why}`,
      `open it: ${open}${as}`, { cause });
  }
  if (here(ready)) {
    return new SwapFailedError(`the old ${target} was dropped; its replacement, complete, is the database ${ready}, closed to connections; ${why}`,
      `finish the swap: ${finish}${as}`, { cause });
  }
  return new SwapFailedError(`${lead}, and neither ${target} nor its replacement ${ready} is on the server; ${why}`,
    'restore a backup of it (npm run db:restore -- FILE) or reset it (npm run db:reset)', { cause });
}

/**
 * Puts `build` in the place of `target`. Before the target is touched, the build is closed
 * to connections and renamed once, which proves nothing holds it (TimescaleDB stops its
 * scheduler there on a rename); then, under the lock, the target is checked again for what
 * the preflight refused (a slot, subscription or prepared transaction made meanwhile would be
 * lost or block the drop), and the drop, the final rename and the opening follow at once.
 * A failure after the drop is reported as the state it left, never as "nothing changed".
 */
async function swap(c: Client, settings: Settings, build: string, targetExists: boolean): Promise<void> {
  const target = settings.database;
  const ready = readyName(target);
  const bound = settings.lockTimeoutMs;
  await closeDatabase(c, build);
  await renameDatabase(c, build, ready, bound);
  if (interrupted()) throw new KapmanError('interrupted before the swap');
  await uninterruptible(async () => {
    let progress: SwapProgress = 'target untouched';
    try {
      if (targetExists) {
        const now = await readIdentity(c, target);
        const problem = now && (await targetProblem(c, target, now));
        if (problem) throw problem;
        await dropDatabase(c, target, bound);
      }
      // With no target, nothing of the user's is lost until the rename: a failure there removes the build as before.
      if (targetExists) progress = 'target dropped';
      await renameDatabase(c, ready, target, bound);
      progress = 'replacement renamed';
      await c.query(`ALTER DATABASE ${escapeIdentifier(target)} ALLOW_CONNECTIONS true`);
      progress = 'done';
    } catch (err) {
      if (progress === 'target untouched') throw err;
      const failure = await swapFailure(settings, ready, progress, targetExists, err as Error);
      if (failure) throw failure;
    }
  });
}

/** TimescaleDB's jobs stopped for the rename; only a superuser may start them again. */
async function restartTimescaleWorkers(settings: Settings): Promise<void> {
  const client = await connect(settings).catch(() => undefined);
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

/**
 * A reset's or restore's dry run, beside or in place: the server, what becomes of the database
 * (`intro`), the steps, indented, and what follows them.
 */
export function printReplacePlan(settings: Settings, intro: string[], steps: string[], then: string): void {
  log(`plan (dry run, nothing changed): server ${settings.displayUrl}`);
  for (const line of intro) log(line);
  for (const line of steps) log(`  ${line}`);
  log(then);
}

/**
 * Runs `work` holding the lock that serializes everything that replaces or empties `settings`'
 * database (a reset either way, a restore, a rollback of every migration). It lives on the
 * database `lockOn` names, which must be the same for all of them, as advisory locks are per
 * database: the maintenance database (replaceLockPlace).
 */
export async function withReplaceLock<T>(settings: Settings, lockOn: Settings, work: () => Promise<T>): Promise<T> {
  return withLock(lockOn, `reset ${settings.database}`, `the reset lock of ${settings.database}`, work);
}

/** The same lock, held until released (or its session ends: the knex CLI keeps it until it exits), where replaceLockPlace says. */
export async function acquireReplaceLock(settings: Settings): Promise<HeldLock> {
  return acquireLock(await replaceLockPlace(settings), `reset ${settings.database}`, `the reset lock of ${settings.database}`);
}

/**
 * Where the reset lock of `settings`' database lives: the maintenance database a reset beside
 * stands on; where none can be reached (a managed server, one database), the target itself,
 * since only what runs in place can run there.
 */
export async function replaceLockPlace(settings: Settings): Promise<Settings> {
  return withMaintenanceClient(settings, async (c) => settingsForDatabase(settings, c.database!)).catch(() => settings);
}

export async function replaceDatabase(settings: Settings, o: ReplaceOptions): Promise<ReplaceResult> {
  const target = settings.database;
  refuseSystemDatabase(target, 'reset');
  return withMaintenanceClient(settings, (admin) => {
    // The swap needs a session of its own (CREATE/DROP DATABASE, ALTER DATABASE, the lock).
    if (isPooled(admin)) {
      throw new PoolerError(`${settings.displayUrl} goes through a connection pooler: a reset creates and drops databases, which needs a direct connection`,
        "use the server's direct address and port in DATABASE_URL (e.g. 5432, not the pooler's 6432), or npm run db:reset -- --in-place; nothing was changed");
    }
    return withReplaceLock(settings, settingsForDatabase(settings, admin.database!), async () => {
      const identity = await readIdentity(admin, target);
      refuseSystemDatabase(target, 'reset', identity?.isTemplate);
      const owner = identity?.owner ?? (await currentUser(admin));
      if (identity && !identity.allowConnections) {
        log(`${target} is closed to connections (datallowconn = false), as an interrupted swap leaves it: the new ${target} will be open`);
      }
      const problem = preflightProblem(await readServerFacts(admin, owner), target, owner, Boolean(identity))
        ?? (identity ? await targetProblem(admin, target, identity) : undefined);
      if (problem) throw problem;
      if (o.dryRun) {
        printReplacePlan(settings, [
          `database ${target} ${identity ? `exists, owner ${owner}` : `does not exist; would be created, owner ${owner}`}`,
          `would build the new ${target} beside it as ${buildPrefix(target)}…, owned by ${owner}:`,
        ], o.plan, identity
          ? `then give it ${target}'s encoding, locale, grants, settings, connection limit and comment, and swap it in (drop the old ${target}, ending its sessions)`
          : `then rename it to ${target}`);
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
        await step(`swapped into place: ${target}`, () => swap(admin, settings, build, Boolean(identity)));
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
