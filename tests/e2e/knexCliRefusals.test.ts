// In tests/e2e (npm run test:e2e): each test starts the knex CLI as a process (it loads the knexfile through ts-node: 1–2 s a run).
// The knex CLI where this project changes what it does: production without DATABASE_URL names what
// is missing; `migrate:make` refuses and points at npm run db:new. (Moved from integration/cli.test.ts
// and integration/newMigration.test.ts.)
import fs from 'fs';
import path from 'path';
import { MIGRATIONS_DIR } from '../../db/migrationSource';
import { ROOT, runKnex } from '../support/cli';

const released = fs.readdirSync(MIGRATIONS_DIR).sort();

test('the knex CLI in production without DATABASE_URL names what is missing instead of trying libpq defaults', () => {
  const r = runKnex(['migrate:status', '--env', 'production']);
  expect(r.code).not.toBe(0);
  expect(r.out + r.err).toMatch(/production environment has no default database: set DATABASE_URL/);
});

test('`npx knex migrate:make` refuses in two lines (no "Failed to read config"), pointing at npm run db:new, and writes no file and no folder', () => {
  const stray = path.join(ROOT, 'migrations');
  const existed = fs.existsSync(stray);
  try {
    const r = runKnex(['migrate:make', 'probe_knex_make']);
    expect({ code: r.code, err: r.err.trim().split('\n') }).toEqual({
      code: 2,
      err: [expect.stringMatching(/^kapman: error: knex migrate:make is not used in this project/), 'kapman: hint: run instead: npm run db:new -- probe_knex_make'],
    });
    expect(fs.existsSync(stray)).toBe(existed);
    expect(fs.readdirSync(MIGRATIONS_DIR).sort()).toEqual(released);
  } finally {
    // Should the refusal ever break, leave the checkout as it was.
    if (!existed) fs.rmSync(stray, { recursive: true, force: true });
    for (const f of fs.readdirSync(MIGRATIONS_DIR)) if (f.includes('probe_knex_make')) fs.rmSync(path.join(MIGRATIONS_DIR, f));
  }
});
