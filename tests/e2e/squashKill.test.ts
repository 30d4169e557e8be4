// Slow (a dozen squashes as real processes, each killed): `kapman-db squash` killed with SIGKILL
// during its proof and before each step of putting its files in place. The kill during the proof
// lands on the line the squash prints; each later one on the pause the test hook
// KAPMAN_SQUASH_PAUSE_BEFORE_STEP makes before step N (a kill on the printed line alone would
// mostly land after the renames, which take microseconds). After each kill, db/ is as it was, as it
// will be, or part-way with the journal: then every command (kapman-db and the knex CLI) says what
// happened and names `squash --finish`, which finishes it. The results are printed as a table.
import { spawn, spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { Settings } from '../../scripts/lib/server/settings';
import { dbFiles, git as gitIn } from '../support/gitProject';
import { migrationOf } from '../support/migrations';
import { kapmanIn } from '../support/nextMigration';
import { copyProject, removeProject } from '../support/projectCopy';
import { admin, createTestDatabase, dropMadeDatabases } from '../support/testDatabase';

let copy: string;
let db: Settings;
let before: Record<string, string>;
let after: Record<string, string>;
const results: string[] = [];

const git = (...args: string[]) => gitIn(copy, ...args);
const dbDir = () => path.join(copy, 'db');
const kapman = (args: string[]) => kapmanIn(copy, args, { DATABASE_URL: db.url });
const staging = () => fs.readdirSync(copy).filter((f) => f.startsWith('.kapman-squash-'));

/** The copy back at its commit: db/ as it was, no staging left beside it. */
function restore(): void {
  git('reset', '-q', '--hard');
  git('clean', '-qfd', '--', 'db');
  for (const f of staging()) fs.rmSync(path.join(copy, f), { recursive: true, force: true });
}

/** `kapman-db squash` as a process of its own, killed (SIGKILL) once its output matches `at`; resolves with what it printed. */
function squashKilledAt(at: RegExp, env: Record<string, string> = {}): Promise<{ out: string; killed: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join('scripts', 'kapman-db.js'), 'squash'], {
      cwd: copy, env: { ...process.env, NODE_ENV: undefined, KAPMAN_DEBUG: undefined, DATABASE_URL: db.url, ...env },
    });
    let out = '';
    let killed = false;
    const look = (d: Buffer) => {
      out += d;
      if (!killed && at.test(out)) {
        killed = true;
        child.kill('SIGKILL');
      }
    };
    child.stdout.on('data', look);
    child.stderr.on('data', look);
    child.on('error', reject);
    child.on('close', () => resolve({ out, killed }));
  });
}

beforeAll(async () => {
  copy = copyProject('squash-kill');
  // Three small migrations: the proof is quick, and the squash has a step per file.
  fs.rmSync(path.join(dbDir(), 'migrations'), { recursive: true });
  fs.mkdirSync(path.join(dbDir(), 'migrations'));
  for (const [name, sql] of [['0001_a.ts', 'CREATE TABLE a (x int)'], ['0002_b.ts', 'CREATE TABLE b (y int)'], ['0003_c.ts', 'CREATE TABLE c (z int)']]) {
    fs.writeFileSync(path.join(dbDir(), 'migrations', name), migrationOf([sql]));
  }
  fs.writeFileSync(path.join(copy, '.gitignore'), 'node_modules\n.pgdata/\nbackups/\n');
  git('init', '-q');
  git('add', '-A');
  git('commit', '-q', '-m', 'three migrations');
  db = await createTestDatabase('_kill');
  expect(kapman(['migrate']).code).toBe(0);
  before = dbFiles(dbDir());
  // The squash done whole once: what db/ will be.
  const whole = kapman(['squash']);
  expect({ code: whole.code, out: whole.code === 0 ? '' : whole.out }).toEqual({ code: 0, out: '' });
  after = dbFiles(dbDir());
  expect(Object.keys(after)).toEqual(expect.arrayContaining(['db/migrations/0003_baseline.ts', 'db/squashed/0001_a.ts', 'db/schema.sql']));
  restore();
  expect(dbFiles(dbDir())).toEqual(before);
});
afterAll(async () => {
  process.stdout.write(`\nkill at each step of a squash (SIGKILL):\n${results.map((r) => `  ${r}`).join('\n')}\n`);
  await removeProject(copy);
  await dropMadeDatabases();
});

/** What a kill left, checked: `as it was`, `as it will be`, or part-way, which every command names and --finish completes. */
function afterTheKill(label: string): string {
  const now = dbFiles(dbDir());
  if (JSON.stringify(now) === JSON.stringify(before)) return 'db/ as it was';
  if (JSON.stringify(now) === JSON.stringify(after)) return 'db/ as it will be';
  const journal = Object.keys(now).filter((f) => f.startsWith('db/.squash-in-progress/'));
  expect({ label, journal: journal.includes('db/.squash-in-progress/plan.json') }).toEqual({ label, journal: true });
  // Every command refuses, saying how far it got and what finishes it: kapman-db, and the knex CLI.
  const status = kapman(['status']);
  expect({ label, code: status.code, said: /part-way through a squash into 0003_baseline\.ts: it was stopped after moving \d of the 3 files/.test(status.out),
    hint: status.out.includes('npm run db:squash -- --finish') }).toEqual({ label, code: 36, said: true, hint: true });
  const knex = spawnSync('npx', ['knex', 'migrate:list'], { cwd: copy, encoding: 'utf8', env: { ...process.env, NODE_ENV: undefined, DATABASE_URL: db.url } });
  expect({ label, failed: knex.status !== 0, said: `${knex.stdout}${knex.stderr}`.includes('npm run db:squash -- --finish') }).toEqual({ label, failed: true, said: true });
  const said = /stopped after moving (\d) of the 3 files[^,]*, (with 0003_baseline\.ts in place|before 0003_baseline\.ts was put in place)/.exec(status.out)!;
  const finished = kapman(['squash', '--finish']);
  expect({ label, code: finished.code, out: finished.code === 0 ? '' : finished.out }).toEqual({ label, code: 0, out: '' });
  expect(dbFiles(dbDir())).toEqual(after);
  return `db/ part-way (${said[1]} of 3 moved, ${said[2]}): status exit 36 and the knex CLI name it; \`squash --finish\` completed it`;
}

test('killed during its proof: db/ as it was; the next squash goes through', async () => {
  const r = await squashKilledAt(/proving that 0003_baseline\.ts builds/);
  expect(r.killed).toBe(true);
  const state = afterTheKill('proof');
  expect(state).toBe('db/ as it was');
  // Its scratch databases outlive it on the server: named here, and dropped.
  const left = await admin(async (c) => (await c.query("SELECT datname FROM pg_database WHERE datname LIKE 'kapman_scratch_%'")).rows.map((x) => x.datname as string));
  results.push(`during the proof: ${state} (scratch databases left on the server: ${left.length})`);
  const again = kapman(['squash']);
  expect(again.code).toBe(0);
  expect(dbFiles(dbDir())).toEqual(after);
  restore();
});

test('killed before each step of putting the files in place: db/ as it was, as it will be, or part-way and finished by --finish', async () => {
  const steps = Number(/step 1\/(\d+):/.exec(kapman(['squash']).out)?.[1]);
  restore();
  expect(steps).toBe(2 + 3 + 1 + 1 + 1); // stage, journal, three moves, the baseline, db/schema.sql, done
  for (let n = 1; n <= steps; n++) {
    const r = await squashKilledAt(new RegExp(`paused before step ${n}\\b`), { KAPMAN_SQUASH_PAUSE_BEFORE_STEP: String(n) });
    expect({ n, killed: r.killed }).toEqual({ n, killed: true });
    const line = new RegExp(`step ${n}/${steps}: ([^\\n]*)`).exec(r.out)![1];
    const stagingLeft = staging().length;
    const state = afterTheKill(`step ${n}`);
    if (state === 'db/ as it was') {
      // The next squash removes what the killed one staged beside db/, and goes through.
      const again = kapman(['squash']);
      expect({ n, code: again.code, staging: staging(), files: dbFiles(dbDir()) }).toEqual({ n, code: 0, staging: [], files: after });
    }
    results.push(`before step ${n}/${steps} (${line}): ${state}${stagingLeft ? ' (its staging folder beside db/, which the next squash removed before it went through)' : ''}`);
    restore();
    expect(dbFiles(dbDir())).toEqual(before);
  }
  // Every state a kill can leave was met: as it was (the staging), part-way (the moves), as it will be (the journal's removal).
  expect(results.join('\n')).toMatch(/as it was[^]*part-way[^]*as it will be|as it was[^]*part-way/);
});
