// The README's command lines, run as a reader would run them (through bash, npx and npm), in
// a copy of the project so that what they write (.pgdata/, backups/, a new migration) lands
// there; the target's commands on a throwaway database of the test server. The list and what
// each must print: tests/support/readmeRunbook.ts.
import { execFileSync, spawnSync } from 'child_process';
import path from 'path';
import { describeCommands } from '../../scripts/commands';
import { freePort } from '../../scripts/lib/server/localCluster';
import { ROOT } from '../support/cli';
import { copyProject, removeProject } from '../support/projectCopy';
import { createTestDatabase, dropMadeDatabases } from '../support/testDatabase';
import { RUNBOOK, RunContext } from '../support/readmeRunbook';

let copy: string;

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

test('every README command line that runs here does what the README says, in the order of the runbook', async () => {
  const target = await createTestDatabase('_readme');
  const context: RunContext = { dir: copy, port: await freePort(), url: target.url };
  const env = { ...process.env, NODE_ENV: undefined, DATABASE_URL: undefined, KAPMAN_DEBUG: undefined, npm_config_yes: 'true' };
  const ran: string[] = [];
  for (const [line, how] of Object.entries(RUNBOOK)) {
    if (!('run' in how)) continue;
    const run = how.run;
    const command = run.as ? run.as(context) : line;
    const r = spawnSync('bash', ['-c', command], {
      cwd: copy, encoding: 'utf8', env: { ...env, ...(run.env === 'target' ? { DATABASE_URL: target.url } : {}) },
    });
    const output = `${r.stdout}${r.stderr}`;
    expect({ command, code: r.status, holds: run.output.test(output), output: run.output.test(output) ? '' : output })
      .toEqual({ command, code: run.code, holds: true, output: '' });
    run.then?.(context, output);
    ran.push(line);
  }
  expect(ran.length).toBe(Object.values(RUNBOOK).filter((h) => 'run' in h).length);
}, RUNBOOK_LIMIT_MS);

test('each command\'s --help, as printed, lists exactly the options the command declares', () => {
  for (const c of describeCommands()) {
    const help = execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'kapman-db.js'), c.name, '--help'], { encoding: 'utf8' });
    const shown = [...help.matchAll(/^\s+(?:-\w, )?--([\w-]+)/gm)].map((m) => m[1]).filter((n) => n !== 'help').sort();
    expect({ command: c.name, shown }).toEqual({ command: c.name, shown: [...c.options.keys()].filter((n) => n !== 'help').sort() });
  }
});
