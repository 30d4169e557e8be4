// In tests/e2e (npm run test:e2e): waits out a server that comes up late, --wait's timeout and the default connect timeout.
// --wait waits for a server that is starting; without it, an unreachable or silent
// server is a ServerUnreachableError, not a hang.
import { ServerUnreachableError } from '../../scripts/lib/cli/errors';
import { freePort } from '../../scripts/lib/server/localCluster';
import { urlForDatabase } from '../../scripts/lib/server/settings';
import { reset } from '../../scripts/reset';
import { verify } from '../../scripts/lib/schema/verify';
import { migrationFiles } from '../support/expected';
import { lateProxy, silentServer } from '../support/proxy';
import { dropMadeDatabases, remember, serverUrl, testSettings, uniqueName } from '../support/testDatabase';

afterAll(dropMadeDatabases);

/** The test server's URL, reached through 127.0.0.1:`port` instead. */
function through(port: number, database: string): string {
  const u = new URL(urlForDatabase(serverUrl(), database));
  u.hostname = '127.0.0.1';
  u.port = String(port);
  return u.toString();
}

test('reset --wait waits for a server that comes up later, then resets', async () => {
  const port = await freePort();
  const name = remember(uniqueName('_wait'));
  const proxy = await lateProxy(serverUrl(), port, 1500);
  try {
    const result = await reset(testSettings(name, through(port, name)), { waitMs: 30_000 });
    expect(result.applied).toEqual(migrationFiles());
  } finally {
    await proxy.close();
  }
  expect((await verify(testSettings(name), { empty: true })).ok).toBe(true);
});

test('--wait gives up after its timeout with ServerUnreachableError', async () => {
  const port = await freePort();
  await expect(reset(testSettings('kapman_never', through(port, 'kapman_never')), { waitMs: 1000 }))
    .rejects.toThrow(ServerUnreachableError);
});

test('without --wait, a server that accepts but never answers is ServerUnreachableError (connect timeout), not a hang', async () => {
  const stand = await silentServer(await freePort());
  try {
    await expect(reset(testSettings('kapman_silent', through(stand.port, 'kapman_silent'))))
      .rejects.toThrow(ServerUnreachableError);
  } finally {
    await stand.close();
  }
});
