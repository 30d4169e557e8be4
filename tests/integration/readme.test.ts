// The README's promises that can be read without running anything: its option table is what
// the commands declare, its exit-code table is what the error classes carry, and every command
// line it shows is run by a test or by .ci/run (the list is tests/support/readmeRunbook.ts).
import fs from 'fs';
import os from 'os';
import path from 'path';
import { describeCommands } from '../../scripts/commands';
import { GLOBAL_OPTIONS, DATABASE_OPTIONS } from '../../scripts/lib/cli/cli';
import * as errors from '../../scripts/lib/cli/errors';
import { ROOT } from '../support/cli';
import { codeSpans, commandLines, README_TEXT, table } from '../support/readme';
import { RUNBOOK } from '../support/readmeRunbook';
import { runInProcess } from '../support/inProcess';
import { runPrefix, serverUrl } from '../support/testDatabase';
import { urlForDatabase } from '../../scripts/lib/server/settings';
import { EXIT_CODES } from '../../scripts/lib/cli/interrupt';
import { SHARED_DATA_ROOT } from '../../scripts/lib/server/localCluster';

const readme = README_TEXT();
const commands = describeCommands();
const DATABASE_COMMANDS = commands.filter((c) => c.load().database).map((c) => c.name);

/** `--no-write` is how yargs spells the negation of `write`; `-h` is help's alias. */
const optionName = (span: string) => span.split(' ')[0].replace(/^--no-/, '--').replace(/^--/, '');

test('the option table lists, for every command, exactly the options its --help shows', () => {
  const documented = new Map<string, Set<string>>(commands.map((c) => [c.name, new Set<string>()]));
  for (const [options, who] of table(readme, 'option', 'commands', 'meaning')) {
    const names = codeSpans(options).filter((s) => s.startsWith('--')).map(optionName);
    const targets = who.split(',').map((w) => w.trim()).flatMap((w) => (w === 'all' ? commands.map((c) => c.name) : w === 'database commands' ? DATABASE_COMMANDS : [w]));
    for (const t of targets) {
      expect(documented.has(t) ? t : `unknown command "${t}" in the option table`).toBe(t);
      for (const n of names) documented.get(t)!.add(n);
    }
  }
  for (const c of commands) {
    const declared = [...c.options.keys()].filter((k) => k !== 'help').sort();
    expect({ command: c.name, options: [...documented.get(c.name)!].filter((k) => k !== 'help').sort() }).toEqual({ command: c.name, options: declared });
  }
});

test('the shared options are declared once, and every database command has all of them', () => {
  for (const c of commands) {
    for (const name of Object.keys(GLOBAL_OPTIONS)) expect(`${c.name} --${name}: ${c.options.has(name)}`).toBe(`${c.name} --${name}: true`);
    if (!DATABASE_COMMANDS.includes(c.name)) continue;
    for (const name of Object.keys(DATABASE_OPTIONS)) expect(`${c.name} --${name}: ${c.options.has(name)}`).toBe(`${c.name} --${name}: true`);
  }
  expect(DATABASE_COMMANDS.sort()).toEqual(['backup', 'erd', 'lint', 'migrate', 'report', 'reset', 'restore', 'rollback', 'schema:dump', 'squash', 'status', 'verify']);
});

test('the command table lists every command, and --help lists the same', () => {
  const documented = table(readme, 'command', 'what it does').flatMap(([cell]) => codeSpans(cell))
    .map((s) => /^npx kapman-db (\S+)/.exec(s)?.[1]).filter(Boolean);
  expect(documented.sort()).toEqual(commands.map((c) => c.name).sort());
});

test('the exit-code table and the error classes agree: every class has its row, every row its class', () => {
  const rows = table(readme, 'exit', 'error').map(([code]) => code);
  const documented = new Set(rows.flatMap((r) => r.split(',').map((c) => Number(c.trim()))));
  const classes = Object.values(errors).filter((v): v is typeof errors.KapmanError => typeof v === 'function' && v.prototype instanceof errors.KapmanError);
  const codes = new Map<number, string[]>();
  for (const Class of classes) {
    const code = new Class('probe').exitCode;
    codes.set(code, [...(codes.get(code) ?? []), Class.name]);
  }
  // 1: anything unexpected; 130/143: the signals (scripts/lib/cli/interrupt.ts), not classes.
  expect([...documented].filter((c) => !codes.has(c) && ![1, 130, 143].includes(c))).toEqual([]);
  expect([...codes.keys()].filter((c) => !documented.has(c))).toEqual([]);
  // One meaning per code: two classes share one only where the table's row names both (4: unreachable, or lost).
  for (const [code, names] of codes) if (names.length > 1) expect({ code, names }).toEqual({ code: 4, names: ['ServerUnreachableError', 'ConnectionLostError'] });
});

test('every command line in the README is run by the README test or by .ci/run', () => {
  const lines = commandLines(readme);
  expect(lines.filter((l) => !(l in RUNBOOK))).toEqual([]);
  expect(Object.keys(RUNBOOK).filter((l) => !lines.includes(l))).toEqual([]);
  const ci = fs.readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8');
  const quickStart = commandLines(readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## Commands')));
  expect(quickStart).toHaveLength(2);
  for (const [line, how] of Object.entries(RUNBOOK)) {
    if (!('ci' in how)) continue;
    // .ci/run runs the quick start's lines as it finds them in the README, and the others by name.
    if (how.ci === 'the quick start') expect(`${line}: ${quickStart.includes(line) && /awk '\/\^## Quick start\//.test(ci)}`).toBe(`${line}: true`);
    else expect(ci.split('\n').some((l) => l.trim() === line)).toBe(true);
  }
});

test('exit 13 names exactly the commands that exit 13 on a database that does not exist', async () => {
  const row = table(readme, 'exit', 'error').find(([code]) => code === '13');
  const documented = codeSpans(row![1]).map((s) => s.replace(/^db:/, '')).sort();
  // Every database command that reads or changes the target in place (reset and restore create
  // it; schema:dump and erd work on a scratch database of their own).
  const probes: Array<[string, string[]]> = [['migrate', []], ['rollback', []], ['status', []], ['verify', []], ['backup', ['--out', path.join(os.tmpdir(), `${runPrefix()}absent.dump`)]], ['reset', ['--dry-run']]];
  const url = urlForDatabase(serverUrl(), `${runPrefix()}absent`);
  const exits13: string[] = [];
  for (const [name, args] of probes) if ((await runInProcess(name, args, { DATABASE_URL: url })).code === 13) exits13.push(name);
  expect(exits13.sort()).toEqual(documented);
});

test('the signals paragraph gives the exit codes the program uses, and says npm exits with node\'s', () => {
  const paragraph = /- \*\*Signals\.\*\*([\s\S]*?)\n- /.exec(readme)![1].replace(/\s+/g, ' ');
  expect(/exit (\d+)\/(\d+)\./.exec(paragraph)!.slice(1).map(Number)).toEqual([EXIT_CODES.SIGINT, EXIT_CODES.SIGTERM]);
  // tests/e2e/signals.test.ts checks this of npm itself, for each way a signal arrives.
  expect(paragraph).toContain('exits with node\'s code');
  const exitRow = table(readme, 'exit', 'error').find(([code]) => code.startsWith('130'))![0];
  expect(exitRow).toBe(`${EXIT_CODES.SIGINT}, ${EXIT_CODES.SIGTERM}`);
});

test('the quick start says where the development cluster\'s data goes when the postgres OS user cannot enter the checkout', () => {
  const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## Commands'));
  expect(quickStart).toContain(`\`${SHARED_DATA_ROOT}/<checkout folder's name>-<hash of its path>\``);
});
