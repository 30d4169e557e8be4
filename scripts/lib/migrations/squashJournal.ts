// Putting a squash's files in place, so that a kill at any moment leaves db/ as it was, as it
// will be, or with a journal that says what is left and that `db:squash --finish` completes.
// Every command refuses while the journal is there (unfinishedSquashRefusal; the knex CLI
// meets UnfinishedSquashError in the migration source).
import crypto from 'crypto';
import fs from 'fs';
import path from 'path';
import {
  FINISH_SQUASH, MIGRATIONS_DIR, SquashPlan, squashedDirOf, squashJournalOf, unfinishedSquash, UnfinishedSquashError,
} from '../../../db/migrationSource';
import { KapmanError, SquashRefusedError, UsageError } from '../cli/errors';
import { uninterruptible } from '../cli/interrupt';
import { detail, log } from '../cli/log';

/** Beside db/, in the project: where a squash stages its files (same file system, so the journal's rename into db/ is atomic). */
const STAGING = '.kapman-squash-';

/** What a squash killed before it changed db/ left beside it: nothing refers to it. */
export function removeStaleStaging(root: string): void {
  for (const f of fs.readdirSync(root).filter((name) => name.startsWith(STAGING))) fs.rmSync(path.join(root, f), { recursive: true, force: true });
}

/** Each step of putting the squash in place, said before it is taken (a test kills the squash on these lines, or pauses before one). */
function stepper(total: number, pauseBeforeStep?: number) {
  let n = 0;
  return async (what: string) => {
    n++;
    detail(`step ${n}/${total}: ${what}`);
    if (pauseBeforeStep === n) {
      detail(`paused before step ${n} (KAPMAN_SQUASH_PAUSE_BEFORE_STEP, a test hook)`);
      await new Promise((resolve) => setTimeout(resolve, 600_000));
    }
  };
}

/**
 * Puts the squash in place: the baseline, db/schema.sql and the plan are staged beside db/ and
 * renamed into db/ as one folder, the journal (the moment db/ starts to change); then each file
 * moves by a rename, and the journal goes by a rename too. Killed before the journal's rename,
 * db/ is as it was; after its removal, as it will be; in between, every command refuses with
 * what happened and `--finish` does the rest (finishPlacing, idempotent).
 */
export async function putInPlace(directory: string, plan: SquashPlan, files: { baseline: string; schemaSql?: string }, pauseBeforeStep?: number): Promise<void> {
  const dbDir = path.dirname(directory);
  const root = path.dirname(dbDir);
  const step = stepper(2 + plan.squashed.length + 1 + (plan.schemaSql ? 1 : 0) + 1, pauseBeforeStep);
  const staging = fs.mkdtempSync(path.join(root, STAGING));
  await step(`staging ${plan.baseline}${plan.schemaSql ? ' and db/schema.sql' : ''} beside db/ (${path.basename(staging)}/)`);
  fs.writeFileSync(path.join(staging, 'baseline.ts'), files.baseline);
  if (plan.schemaSql) fs.writeFileSync(path.join(staging, 'schema.sql'), files.schemaSql!);
  fs.writeFileSync(path.join(staging, 'plan.json'), `${JSON.stringify(plan, null, 2)}\n`);
  await step(`changing db/ from here on (a kill leaves it to \`${FINISH_SQUASH}\`): the journal ${projectPath(dbDir, squashJournalOf(directory))}/`);
  fs.renameSync(staging, squashJournalOf(directory));
  await uninterruptible(() => finishPlacing(directory, plan, step));
}

/** The rest of putting a squash in place, from wherever a kill stopped it: each step is done once, and skipped when done. */
async function finishPlacing(directory: string, plan: SquashPlan, step: (what: string) => Promise<void>): Promise<void> {
  const dbDir = path.dirname(directory);
  const journal = squashJournalOf(directory);
  const squashedDir = squashedDirOf(directory);
  fs.mkdirSync(squashedDir, { recursive: true });
  for (const f of plan.squashed) {
    const [from, to] = [path.join(directory, f), path.join(squashedDir, f)];
    if (!fs.existsSync(from) && fs.existsSync(to)) continue;
    await step(`moving ${f} to ${projectPath(dbDir, squashedDir)}/`);
    fs.renameSync(from, to);
  }
  if (fs.existsSync(path.join(journal, 'baseline.ts'))) {
    await step(`putting ${projectPath(dbDir, path.join(directory, plan.baseline))} in place`);
    fs.renameSync(path.join(journal, 'baseline.ts'), path.join(directory, plan.baseline));
  }
  if (plan.schemaSql && fs.existsSync(path.join(journal, 'schema.sql'))) {
    await step(`putting ${projectPath(dbDir, path.join(dbDir, 'schema.sql'))} in place`);
    fs.renameSync(path.join(journal, 'schema.sql'), path.join(dbDir, 'schema.sql'));
  }
  await step(`done: removing the journal ${projectPath(dbDir, journal)}/`);
  const gone = path.join(path.dirname(dbDir), `${STAGING}done-${crypto.randomBytes(4).toString('hex')}`);
  fs.renameSync(journal, gone);
  fs.rmSync(gone, { recursive: true, force: true });
}

export interface FinishedSquash {
  baseline: string;
  squashed: string[];
}

/** `db:squash --finish`: completes a squash a kill stopped while it put its files in place. */
export async function finishSquash(o: { directory?: string } = {}): Promise<FinishedSquash> {
  const directory = o.directory ?? MIGRATIONS_DIR;
  const plan = unfinishedSquash(directory);
  if (!plan) throw new UsageError(`no squash to finish: ${projectPath(path.dirname(directory), squashJournalOf(directory))}/ is not there`, 'run `npm run db:squash` to squash');
  const dbDir = path.dirname(directory);
  log(`finishing the squash into ${plan.baseline}, stopped part-way (its proof had passed)`);
  let n = 0;
  await uninterruptible(() => finishPlacing(directory, plan, async (what) => detail(`step ${++n}: ${what}`)));
  reviewLines(dbDir, plan);
  return { baseline: plan.baseline, squashed: plan.squashed };
}

/** The error every command gives while a squash is part-way (db/ changing); undefined when none is. */
export function unfinishedSquashRefusal(directory = MIGRATIONS_DIR): KapmanError | undefined {
  const plan = unfinishedSquash(directory);
  if (!plan) return undefined;
  const err = new UnfinishedSquashError(directory, plan);
  return new SquashRefusedError(err.message, err.hint);
}

export function reviewLines(dbDir: string, plan: SquashPlan): void {
  const squashedDir = squashedDirOf(path.join(dbDir, 'migrations'));
  log(`moved to ${projectPath(dbDir, squashedDir)}/: ${plan.squashed.join(', ')}`);
  log(`written: ${[path.join('migrations', plan.baseline), ...(plan.schemaSql ? ['schema.sql'] : [])].map((f) => projectPath(dbDir, path.join(dbDir, f))).join(', ')}`);
  log('review and commit:');
  for (const line of ['git add -A db/', 'git status --short db/', 'git diff --cached -M --stat db/',
    `git commit -m "Squash ${plan.squashed[0].slice(0, 4)}-${plan.squashed[plan.squashed.length - 1].slice(0, 4)} into ${plan.baseline}"`]) log(`  ${line}`);
  log('then `npm run db:migrate` carries each database migrated before the squash past it, without a rebuild');
}

/** `db/…`: a path as the project names it. */
export function projectPath(dbDir: string, file: string): string {
  return path.join(path.basename(dbDir), path.relative(dbDir, file));
}
