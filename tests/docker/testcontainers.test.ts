// In test:docker: the harness's Testcontainers server on a real engine. The reaper image
// cannot always be had, so the harness removes its own container: at stop(), at its process's
// exit, and a killed run's at the next run's start.
import { spawnSync } from 'child_process';
import path from 'path';
import { Client } from 'pg';
import { tryTestcontainers } from '../../scripts/lib/server/testServer';
import { ROOT } from '../support/cli';
import { docker, requireDockerEngine } from '../support/docker';

beforeAll(requireDockerEngine);

const LABEL = 'kapman.tests.run';
/** The ids of the harness's containers (any state) whose label names process `pid` of this machine. */
const containersOf = (pid: number) => docker(['ps', '-a', '--filter', `label=${LABEL}`, '--format', '{{.ID}} {{.Label "' + LABEL + '"}}'])
  .out.split('\n').filter((l) => l.endsWith(`:${pid}`)).map((l) => l.split(' ')[0]);

/** A harness run in a child process that starts its container, then ends as `how` says. */
function childRun(how: string): number {
  const script = `require(${JSON.stringify(path.join(ROOT, 'scripts', 'lib', 'server', 'testServer.ts'))}).tryTestcontainers([])` +
    `.then(() => { process.stdout.write(String(process.pid)); ${how} })`;
  const r = spawnSync(process.execPath, ['-r', path.join(ROOT, 'scripts', 'register.js'), '-e', script], { encoding: 'utf8', timeout: 120_000 });
  const pid = Number(r.stdout);
  if (!pid) throw new Error(`the child run did not start its container: ${r.stderr}`);
  return pid;
}

test('the container runs TimescaleDB\'s community build for the tests, and stop() removes it with its volume', async () => {
  const server = (await tryTestcontainers([]))!;
  expect(server.kind).toBe('testcontainers');
  const ids = containersOf(process.pid);
  expect(ids).toHaveLength(1);
  const volumes = docker(['inspect', '--format', '{{range .Mounts}}{{.Name}} {{end}}', ids[0]]).out.trim().split(' ').filter(Boolean);
  const c = new Client({ connectionString: server.adminUrl });
  await c.connect();
  expect((await c.query("SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'timescaledb'")).rows[0].n).toBe(1);
  // The pinned image is TimescaleDB's community build: compression and policies work there.
  expect((await c.query("SELECT current_setting('timescaledb.license') AS license")).rows[0].license).toBe('timescale');
  expect((await c.query("SELECT current_setting('timescaledb.telemetry_level') AS level")).rows[0].level).toBe('off');
  await c.end();
  await server.stop();
  expect(containersOf(process.pid)).toEqual([]);
  for (const v of volumes) expect(docker(['volume', 'inspect', v]).code).not.toBe(0);
});

test('a run that exits without stopping its server still removes its container', () => {
  const pid = childRun('process.exit(1);');
  expect(containersOf(pid)).toEqual([]);
});

test("a killed run's container is removed by the next run's start", async () => {
  const pid = childRun("process.kill(process.pid, 'SIGKILL');");
  expect(containersOf(pid)).toHaveLength(1);
  const server = (await tryTestcontainers([]))!;
  try {
    expect(containersOf(pid)).toEqual([]);
  } finally {
    await server.stop();
  }
});
