// The documentation's promises that can be read without running anything, wherever a table now
// lives (README.md or a page of docs/): the option table is what the commands declare, the
// exit-code table is what the error classes carry, and every command line of the README and of
// docs/ is run by a test or by .ci/run (the list is tests/support/readmeRunbook.ts). And its
// shape: a README short enough to read, every page linked from it, every link resolving.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { describeCommands } from '../../scripts/commands';
import { GLOBAL_OPTIONS, DATABASE_OPTIONS } from '../../scripts/lib/cli/cli';
import * as errors from '../../scripts/lib/cli/errors';
import { ROOT } from '../support/cli';
import { NEXT_STEPS } from '../../scripts/new';
import { allCommandLines, anchors, codeSpans, commandLines, links, longLines, pages, pageWith, README_TEXT, section, table, tableInPages, writtenPages } from '../support/readme';
import { RUNBOOK } from '../support/readmeRunbook';
import { runInProcess } from '../support/inProcess';
import { runPrefix, serverUrl } from '../support/testDatabase';
import { urlForDatabase } from '../../scripts/lib/server/settings';
import { EXIT_CODES } from '../../scripts/lib/cli/interrupt';
import { SHARED_DATA_ROOT } from '../../scripts/lib/server/localCluster';

const readme = README_TEXT();
const exitTable = () => tableInPages('exit', 'class', 'error').rows;
const commands = describeCommands();
const DATABASE_COMMANDS = commands.filter((c) => c.load().database).map((c) => c.name);

/** `--no-write` is how yargs spells the negation of `write`; `-h` is help's alias. */
const optionName = (span: string) => span.split(' ')[0].replace(/^--no-/, '--').replace(/^--/, '');

test('the option table lists, for every command, exactly the options its --help shows', () => {
  const documented = new Map<string, Set<string>>(commands.map((c) => [c.name, new Set<string>()]));
  for (const [options, who] of tableInPages('option', 'commands', 'meaning').rows) {
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

test('the README\'s command table lists every command, and --help lists the same', () => {
  const documented = table(readme, 'command', 'what it does').flatMap(([cell]) => codeSpans(cell))
    .map((s) => /^node scripts\/kapman-db\.js (\S+)/.exec(s)?.[1]).filter(Boolean);
  expect(documented.sort()).toEqual(commands.map((c) => c.name).sort());
});

/** Each error class of scripts/lib/cli/errors.ts with the exit code it carries. */
function errorClasses(): Map<string, number> {
  const classes = Object.values(errors).filter((v): v is typeof errors.KapmanError => typeof v === 'function' && v.prototype instanceof errors.KapmanError);
  return new Map(classes.map((Class) => [Class.name, new Class('probe').exitCode]));
}

// 1: anything unexpected; 130/143: the signals (scripts/lib/cli/interrupt.ts): no class.
const CLASSLESS = [1, EXIT_CODES.SIGINT, EXIT_CODES.SIGTERM];

test('the exit-code table and errors.ts agree: each row names exactly the classes that carry its code', () => {
  const carried = errorClasses();
  const rows = exitTable().map(([codes, names]) => ({ codes: codes.split(',').map((c) => Number(c.trim())), classes: codeSpans(names).sort() }));
  for (const { codes, classes } of rows) {
    const expected = codes.every((c) => CLASSLESS.includes(c)) ? [] : [...carried].filter(([, code]) => codes.includes(code)).map(([name]) => name).sort();
    expect({ codes, classes }).toEqual({ codes, classes: expected });
  }
  const documented = rows.flatMap((r) => r.codes);
  expect([...carried].filter(([, code]) => !documented.includes(code))).toEqual([]);
  expect(documented.filter((c, i) => documented.indexOf(c) !== i)).toEqual([]);
  // One meaning per code: two classes share one only where the row names both (4: unreachable, or lost).
  expect(rows.filter((r) => r.classes.length > 1)).toEqual([{ codes: [4], classes: ['ConnectionLostError', 'ServerUnreachableError'] }]);
});

test('every exit code the README and docs/ name in their text is one the program has', () => {
  const known = new Set([0, ...CLASSLESS, ...errorClasses().values()]);
  const named: Array<{ file: string; code: number; said: string }> = [];
  for (const { file, text } of pages()) {
    // "exit 36", "exits 37", "(exit 130/143)", "exit 0 only when", "exit 0, 11 when not"
    for (const m of text.replace(/\s+/g, ' ').matchAll(/\bexits? (\d+(?:\/\d+)?)/g)) {
      for (const code of m[1].split('/')) named.push({ file, code: Number(code), said: m[0] });
    }
  }
  expect(named.length).toBeGreaterThan(20);
  // Node's own exit 9 for a missing --env-file is 9 here too (a class's): not told apart.
  expect(named.filter((n) => !known.has(n.code))).toEqual([]);
});

test('the daily loop in the README lists the commands `new` prints as next steps', () => {
  const loop = section(readme, 'The daily loop');
  const commands = NEXT_STEPS.map((s) => /((?:node scripts\/kapman-db\.js|npm) [\w:-]+(?: --[\w-]+)?)/.exec(s)?.[1]).filter((c): c is string => c !== undefined);
  expect(commands.length).toBeGreaterThanOrEqual(6);
  expect(commands.filter((c) => !loop.includes(`\`${c}\``) && !loop.includes(`\`${c}:`))).toEqual([]);
});

test('every command line in the README and docs/ is run by the README test or by .ci/run', () => {
  const lines = allCommandLines();
  expect(lines.filter((l) => !(l in RUNBOOK))).toEqual([]);
  expect(Object.keys(RUNBOOK).filter((l) => !lines.includes(l))).toEqual([]);
  const ci = fs.readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8');
  const quickStart = commandLines(section(readme, 'Quick start'));
  expect(quickStart).toHaveLength(2);
  for (const [line, how] of Object.entries(RUNBOOK)) {
    if (!('ci' in how)) continue;
    // .ci/run runs the quick start's lines as it finds them in the README, and the others by name.
    if (how.ci === 'the quick start') expect(`${line}: ${quickStart.includes(line) && /awk '\/\^## Quick start\//.test(ci)}`).toBe(`${line}: true`);
    else expect(ci.split('\n').some((l) => l.trim() === line)).toBe(true);
  }
});

test('exit 13 names exactly the commands that exit 13 on a database that does not exist', async () => {
  const row = exitTable().find(([code]) => code === '13');
  const documented = codeSpans(row![2]).map((s) => s.replace(/^db:/, '')).sort();
  // Every database command that reads or changes the target in place (reset and restore create
  // it; schema:dump and erd work on a scratch database of their own).
  const probes: Array<[string, string[]]> = [['migrate', []], ['rollback', []], ['status', []], ['verify', []], ['backup', ['--out', path.join(os.tmpdir(), `${runPrefix()}absent.dump`)]], ['reset', ['--dry-run']]];
  const url = urlForDatabase(serverUrl(), `${runPrefix()}absent`);
  const exits13: string[] = [];
  for (const [name, args] of probes) if ((await runInProcess(name, args, { DATABASE_URL: url })).code === 13) exits13.push(name);
  expect(exits13.sort()).toEqual(documented);
});

test('the signals paragraph gives the exit codes the program uses, and says npm exits with node\'s', () => {
  const paragraph = /- \*\*Signals\.\*\*([\s\S]*?)\n- /.exec(pageWith('- **Signals.**').text)![1].replace(/\s+/g, ' ');
  expect(/exit (\d+)\/(\d+)\./.exec(paragraph)!.slice(1).map(Number)).toEqual([EXIT_CODES.SIGINT, EXIT_CODES.SIGTERM]);
  // tests/e2e/signals.test.ts checks this of npm itself, for each way a signal arrives.
  expect(paragraph).toContain('exits with node\'s code');
  const exitRow = exitTable().find(([code]) => code.startsWith('130'))![0];
  expect(exitRow).toBe(`${EXIT_CODES.SIGINT}, ${EXIT_CODES.SIGTERM}`);
});

test('the quick start points at the page that says where the development cluster\'s data goes when the postgres OS user cannot enter the checkout', () => {
  const page = pageWith(`\`${SHARED_DATA_ROOT}/<checkout folder's name>-<hash of its path>\``);
  expect(section(readme, 'Quick start')).toContain(`](${page.file})`);
});

describe('the README is a front door, docs/ the rooms behind it', () => {
  const MAX_README_LINES = 300;
  const MAX_LINE = 120;

  test(`README.md is at most ${MAX_README_LINES} lines`, () => {
    expect(readme.split('\n').length - (readme.endsWith('\n') ? 1 : 0)).toBeLessThanOrEqual(MAX_README_LINES);
  });

  test('every page of docs/ is linked from README.md', () => {
    const linked = new Set(links(readme).map((l) => path.normalize(l.target.split('#')[0])));
    const docs = pages().map((p) => p.file).filter((f) => f !== 'README.md');
    expect(docs.length).toBeGreaterThan(5);
    expect(docs.filter((f) => !linked.has(f))).toEqual([]);
  });

  test('every relative link of README.md and docs/ leads to a file, and its #anchor to a heading there', () => {
    const broken: string[] = [];
    let checked = 0;
    for (const { file, text } of pages()) {
      for (const { target, line } of links(text)) {
        if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
        checked++;
        const [to, anchor] = target.split('#');
        const resolved = to ? path.join(path.dirname(file), to) : file;
        const absolute = path.join(ROOT, resolved);
        if (!fs.existsSync(absolute)) broken.push(`${file}:${line}: ${target}: no such file`);
        else if (anchor !== undefined && !(resolved.endsWith('.md') && anchors(fs.readFileSync(absolute, 'utf8')).has(anchor))) {
          broken.push(`${file}:${line}: ${target}: no heading #${anchor} in ${resolved}`);
        }
      }
    }
    expect(checked).toBeGreaterThan(20);
    expect(broken).toEqual([]);
  });

  test(`no line of README.md or a written page of docs/ is over ${MAX_LINE} characters outside tables and code`, () => {
    const long = writtenPages().flatMap(({ file, text }) => longLines(text, MAX_LINE).map((n) => `${file}:${n}`));
    expect(long).toEqual([]);
  });
});
