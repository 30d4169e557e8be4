// A DROP DATABASE that meets a session it may not end yet (as a TimescaleDB scheduler, which runs
// as no role, meets a role that is not a superuser): tried again with short, growing waits, up
// to a bound, as every drop and rename of the tools and of the test harness is.
import { Client, escapeIdentifier } from 'pg';
import { dropDatabase } from '../../scripts/lib/server/admin';
import { admin, createTestRole, dropMadeDatabases, dropMadeRoles, remember, uniqueName, urlAs } from '../support/testDatabase';

afterAll(async () => {
  await dropMadeDatabases();
  await dropMadeRoles();
});

/** A database owned by one role, with a session of another role in it that its owner may not end. */
async function heldByAnother(label: string) {
  const [owner, other] = [await createTestRole(`${label}_own`), await createTestRole(`${label}_oth`)];
  const name = remember(uniqueName(label));
  await admin((c) => c.query(`CREATE DATABASE ${escapeIdentifier(name)} OWNER ${escapeIdentifier(owner.name)}`));
  const held = new Client({ connectionString: urlAs(other, name) });
  await held.connect();
  const ownerSession = new Client({ connectionString: urlAs(owner, 'postgres') });
  await ownerSession.connect();
  const exists = () => admin(async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1);
  return { name, held, ownerSession, exists };
}

test('the drop waits for a session that leaves a moment later, and succeeds', async () => {
  const { name, held, ownerSession, exists } = await heldByAnother('_dretry');
  try {
    const leaves = new Promise((r) => setTimeout(r, 300)).then(() => held.end());
    await dropDatabase(ownerSession, name);
    await leaves;
    expect(await exists()).toBe(false);
  } finally {
    await ownerSession.end();
  }
});

test('a session that stays is not waited for past the bound: the error comes, the database is kept', async () => {
  const { name, held, ownerSession, exists } = await heldByAnother('_dbound');
  try {
    const error = await dropDatabase(ownerSession, name, 400).then(() => undefined, (e: Error) => e);
    expect(error?.message).toMatch(/role whose process is being terminated/);
    expect(await exists()).toBe(true);
  } finally {
    await held.end();
    await ownerSession.end();
  }
});
