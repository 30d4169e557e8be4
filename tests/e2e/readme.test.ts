// The command lines of the README and of docs/, run as a reader would run them (through bash,
// node, npx and npm), in a copy of the project so that what they write (.pgdata/, backups/, a
// new migration) lands there; the target's commands on a throwaway database of the test server.
// The list and what each must print: tests/support/readmeRunbook.ts. npm's registry is a
// stand-in that answers nothing and counts what it is asked: no line may fetch a package (the
// public registry may hold an unrelated `kapman-db`, which npx would run).
import { execFileSync, spawn } from 'child_process';
import http from 'http';
import { AddressInfo } from 'net';
import path from 'path';
import { describeCommands } from '../../scripts/commands';
import { freePort } from '../../scripts/lib/server/localCluster';
import { ROOT } from '../support/cli';
import { copyProject, removeProject } from '../support/projectCopy';
import { createTestDatabase, dropMadeDatabases } from '../support/testDatabase';
import { RUNBOOK, RunContext } from '../support/readmeRunbook';

let copy: string;

/** `bash -c line` in the copy, without blocking: the registry stand-in answers meanwhile. */
function bash(line: string, env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', line], { cwd: copy, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

// The runbook's work: two dozen command lines, most through npx (3 s each before the command
// starts), two local clusters started and two squash proofs: about a minute on a quiet 2-core
// machine, 80 s at a load of 10 here; 5 minutes leaves room for a machine twice as loaded.
const RUNBOOK_LIMIT_MS = 300_000;

beforeAll(() => {
  copy = copyProject('readme');
});

afterAll(async () => {
  await removeProject(copy);
  await dropMadeDatabases();
});

test('every command line of the README and docs/ that runs here does what the page says, in the order of the runbook, and asks no registry', async () => {
  const target = await createTestDatabase('_readme');
  const context: RunContext = { dir: copy, port: await freePort(), url: target.url };
  const asked: string[] = [];
  const registry = http.createServer((req, res) => {
    asked.push(`${req.method} ${req.url}`);
    res.writeHead(404).end('{}');
  });
  await new Promise<void>((resolve) => registry.listen(0, '127.0.0.1', resolve));
  const env = {
    ...process.env, NODE_ENV: undefined, DATABASE_URL: undefined, KAPMAN_DEBUG: undefined,
    npm_config_registry: `http://127.0.0.1:${(registry.address() as AddressInfo).port}/`, npm_config_yes: 'false', npm_config_update_notifier: 'false',
  };
  const ran: string[] = [];
  for (const [line, how] of Object.entries(RUNBOOK)) {
    if (!('run' in how)) continue;
    const run = how.run;
    const command = run.as ? run.as(context) : line;
    const r = await bash(command, { ...env, ...(run.env === 'target' ? { DATABASE_URL: target.url } : {}) });
    const output = `${r.stdout}${r.stderr}`;
    expect({ command, code: r.status, holds: run.output.test(output), output: run.output.test(output) ? '' : output })
      .toEqual({ command, code: run.code, holds: true, output: '' });
    run.then?.(context, output);
    ran.push(line);
  }
  registry.close();
  expect(ran.length).toBe(Object.values(RUNBOOK).filter((h) => 'run' in h).length);
  expect(asked).toEqual([]);
}, RUNBOOK_LIMIT_MS);

test('each command\'s --help, as printed, lists exactly the options the command declares', () => {
  for (const c of describeCommands()) {
    const help = execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'kapman-db.js'), c.name, '--help'], { encoding: 'utf8' });
    const shown = [...help.matchAll(/^\s+(?:-\w, )?--([\w-]+)/gm)].map((m) => m[1]).filter((n) => n !== 'help').sort();
    expect({ command: c.name, shown }).toEqual({ command: c.name, shown: [...c.options.keys()].filter((n) => n !== 'help').sort() });
  }
});
