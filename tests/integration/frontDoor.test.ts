// What a new user meets first, through the program as it runs (in-process): usage errors in the
// house's words with "did you mean", hints that point where the user can go, --quiet printing
// the outcome alone, the production refusal naming the command as typed, a password with a
// raw "@", and the wait's progress line.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { MIGRATIONS_DIR } from '../../db/migrationSource';
import { programAsTyped } from '../../scripts/lib/cli/cli';
import { MASK } from '../../scripts/lib/cli/log';
import { SchemaDriftError } from '../../scripts/lib/cli/errors';
import { reportVerification, verify } from '../../scripts/lib/schema/verify';
import { runInProcess } from '../support/inProcess';
import { createMigratedDatabase, createTestDatabase, dropMadeDatabases, withDatabase } from '../support/testDatabase';

afterAll(dropMadeDatabases);

// How the user started it: the variables npm sets (none for the bin run directly).
const AS_NPX = { npm_command: 'exec', npm_lifecycle_event: 'npx' };
const AS_BIN = { npm_command: undefined, npm_lifecycle_event: undefined };
const asNpmScript = (script: string) => ({ npm_command: 'run', npm_lifecycle_event: script, npm_execpath: undefined });
const ours = (text: string) => text.split('\n').filter((l) => l.startsWith('kapman:'));

test('hints name the program as it was started: node and the file\'s path, or the bin\'s name', () => {
  const checkout = path.join(os.tmpdir(), 'checkout');
  const file = path.join(checkout, 'scripts', 'kapman-db.js');
  expect(programAsTyped(file, checkout)).toBe('node scripts/kapman-db.js');
  expect(programAsTyped(file, path.join(checkout, 'db'))).toBe(`node ${file}`); // from a subfolder: the whole path
  expect(programAsTyped(file, os.homedir())).toBe(`node ${file}`);
  expect(programAsTyped(path.join(checkout, 'node_modules', '.bin', 'kapman-db'), checkout)).toBe('kapman-db'); // a bin link, npx
  expect(programAsTyped(undefined, checkout)).toBe('kapman-db');
});

describe('an unknown option', () => {
  test('through npx: named as typed, with the option it misspells and the line to run', async () => {
    const r = await runInProcess('reset', ['--dry-rn'], AS_NPX);
    expect({ code: r.code, lines: ours(r.err) }).toEqual({
      code: 2, lines: ['kapman: error: unknown option --dry-rn', 'kapman: hint: did you mean --dry-run? run: npx kapman-db reset --dry-run'],
    });
  });

  test('through the npm script after --, several at once, a --no- form and a value kept', async () => {
    const r = await runInProcess('reset', ['--dry-rn', '--no-bakup', '--lock-timeot=5'], asNpmScript('db:reset'));
    expect({ code: r.code, lines: ours(r.err) }).toEqual({
      code: 2,
      lines: [
        'kapman: error: unknown options --dry-rn, --no-bakup, --lock-timeot',
        'kapman: hint: did you mean --dry-run, --no-backup, --lock-timeout? run: npm run db:reset -- --dry-run --no-backup --lock-timeout=5',
      ],
    });
  });

  test('nothing close: no guess, only where the options are listed', async () => {
    const r = await runInProcess('verify', ['--xyzzy'], AS_BIN);
    expect({ code: r.code, lines: ours(r.err) }).toEqual({ code: 2, lines: ['kapman: error: unknown option --xyzzy', 'kapman: hint: see `kapman-db verify --help`'] });
  });
});

describe('restore', () => {
  test('without a file: what it needs and the line to type, in the house\'s words', async () => {
    const r = await runInProcess('restore', ['--dry-run'], asNpmScript('db:restore'));
    expect(r.code).toBe(2);
    expect(ours(r.err)[0]).toMatch(/^kapman: error: restore needs the backup to restore .*: npm run db:restore -- --dry-run FILE$/);
    expect(r.err).not.toMatch(/non-option arguments/);
  });

  test('given the backup\'s FILE.json, it restores FILE', async () => {
    const db = await createMigratedDatabase('_front_restore');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-front-'));
    try {
      const file = path.join(dir, 'b.dump');
      expect((await runInProcess('backup', ['--out', file], { DATABASE_URL: db.url })).code).toBe(0);
      const r = await runInProcess('restore', [`${file}.json`, '--dry-run'], { DATABASE_URL: db.url });
      expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
      expect(r.out).toContain(`restoring ${file} (${file}.json is its metadata)`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a flag npm took for itself (typed without `--`: the command sees only npm_config_*)', () => {
  const said = (script: string, spelling: string) =>
    [`kapman: error: npm took ${spelling} for itself (no \`--\` before it), so nothing was done; run: npm run ${script} -- ${spelling}`];

  test('is refused (exit 2) with the line to run, and nothing is done: npm run db:reset --dry-run resets nothing', async () => {
    const db = await createMigratedDatabase('_front_npmflag');
    await withDatabase(db, (c) => c.query("INSERT INTO tickers (symbol) VALUES ('KEEP')"));
    const r = await runInProcess('reset', [], { ...asNpmScript('db:reset'), DATABASE_URL: db.url, npm_config_dry_run: 'true' });
    expect({ code: r.code, lines: ours(r.err) }).toEqual({ code: 2, lines: said('db:reset', '--dry-run') });
    expect(await withDatabase(db, async (c) => (await c.query('SELECT symbol FROM tickers')).rows)).toEqual([{ symbol: 'KEEP' }]);
  });

  test('a value and a --no- form are spelled back as typed', async () => {
    const empty = await createTestDatabase('_front_npmflag_value');
    const r = await runInProcess('migrate', [], { ...asNpmScript('db:migrate'), DATABASE_URL: empty.url, npm_config_wait_timeout: '5' });
    expect({ code: r.code, lines: ours(r.err) }).toEqual({ code: 2, lines: said('db:migrate', '--wait-timeout 5') });
    const backup = await runInProcess('reset', [], { ...asNpmScript('db:reset'), DATABASE_URL: empty.url, npm_config_backup: '' });
    expect({ code: backup.code, lines: ours(backup.err) }).toEqual({ code: 2, lines: said('db:reset', '--no-backup') });
    await withDatabase(empty, async (c) => expect((await c.query("SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace")).rows[0].n).toBe(0));
  });
});

test('--quiet prints the outcome line alone, for every command that changes or reads the database', async () => {
  const db = await createMigratedDatabase('_front_quiet');
  const empty = await createTestDatabase('_front_quiet_empty');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-front-'));
  const file = path.join(dir, 'q.dump');
  const runs: Array<[string, string[], string]> = [
    ['migrate', [], empty.url], ['rollback', ['--all'], empty.url], ['reset', [], db.url], ['reset', ['--dry-run'], db.url],
    ['reset', ['--in-place'], db.url], ['status', [], db.url], ['verify', ['--wait'], db.url], ['backup', ['--out', file], db.url],
    ['restore', [file], db.url], ['bench', ['--render-only', '--no-write'], db.url],
  ];
  try {
    for (const [name, args, url] of runs) {
      const r = await runInProcess(name, [...args, '--quiet'], { DATABASE_URL: url });
      const lines = `${r.out}${r.err}`.split('\n').filter(Boolean);
      expect({ name, args, code: r.code, lines: lines.length, err: r.err }).toEqual({ name, args, code: 0, lines: 1, err: '' });
      expect(lines[0]).toMatch(/^kapman: \S/);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe('production', () => {
  test('the refusal gives the command as it was typed, with --force', async () => {
    const db = await createTestDatabase('_front_prod');
    const npm = await runInProcess('reset', ['--env', 'production', '--dry-run'], { ...asNpmScript('db:reset'), DATABASE_URL: db.url });
    expect({ code: npm.code, hint: ours(npm.err)[1] })
      .toEqual({ code: 7, hint: 'kapman: hint: this deletes every row in it; if you mean it, run: npm run db:reset -- --env production --dry-run --force' });
    const npx = await runInProcess('rollback', ['--env=production'], { ...AS_NPX, DATABASE_URL: db.url });
    expect({ code: npx.code, hint: ours(npx.err)[1] })
      .toEqual({ code: 7, hint: 'kapman: hint: rolling back drops tables and their data; if you mean it, run: npx kapman-db rollback --env=production --force' });
  });

  test('without DATABASE_URL: the example URL shows where the password goes, and no mask stands in for one', async () => {
    const r = await runInProcess('status', ['--env', 'production'], AS_BIN);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/^kapman: hint: set DATABASE_URL, e\.g\. DATABASE_URL=postgres:\/\/USER@HOST:5432\/DBNAME \(the password /m);
    expect(r.err).not.toContain(MASK);
    const malformed = await runInProcess('status', [], { DATABASE_URL: 'mysql://x' });
    expect({ code: malformed.code, masked: malformed.err.includes(MASK) }).toEqual({ code: 3, masked: false });
  });
});

test('a raw "@" in the password: exit 3, the hint says %40, and no piece of the password is printed', async () => {
  const r = await runInProcess('status', [], { DATABASE_URL: 'postgres://kapman:Sekr3t@Xq9zz@localhost/kapman_dev' });
  expect(r.code).toBe(3);
  expect(r.err).toMatch(/^kapman: hint: .*%40/m);
  expect(`${r.out}${r.err}`).not.toMatch(/Sekr3t|Xq9zz/);
});

test('--wait prints one dot per try and single spaces: "waiting for the server. ready"', async () => {
  const db = await createMigratedDatabase('_front_wait');
  const r = await runInProcess('verify', ['--wait'], { DATABASE_URL: db.url });
  expect(r.code).toBe(0);
  expect(r.err).toMatch(/^kapman: waiting for the server\.+ ready$/m);
});

describe("verify's hint after a new migration points where the user can go", () => {
  test('a migration pending: apply it with db:migrate', async () => {
    const db = await createMigratedDatabase('_front_pending');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-front-migrations-'));
    try {
      fs.cpSync(MIGRATIONS_DIR, dir, { recursive: true });
      fs.writeFileSync(path.join(dir, '0099_probe.ts'), 'export async function up() {}\nexport async function down() {}\n');
      const report = await verify(db, { migrationsDirectory: dir });
      const err = (() => { try { reportVerification(report); } catch (e) { return e as SchemaDriftError; } })();
      expect(err).toBeInstanceOf(SchemaDriftError);
      expect(err!.hint).toMatch(/^apply the pending migrations with `npm run db:migrate`/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('every migration applied, the schema differs: the contract first, since db:reset refuses while the two disagree', async () => {
    const db = await createMigratedDatabase('_front_drift');
    await withDatabase(db, (c) => c.query('ALTER TABLE tickers ADD COLUMN exchange text'));
    const r = await runInProcess('verify', [], { DATABASE_URL: db.url });
    expect(r.code).toBe(11);
    expect(ours(r.err)[1]).toMatch(/^kapman: hint: if a migration made the change, make db\/contract\.ts describe what the migrations build/);
  });
});
