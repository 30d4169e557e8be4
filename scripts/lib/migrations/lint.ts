// The lint: what the rehearsed migrations send, read by squawk (the Postgres migration linter)
// and by our TimescaleDB rules, which squawk cannot know. A finding that is accepted is silenced
// in the migration file itself, with a reason:
//   // kapman-lint-ignore <rule>[, <rule>]: <why it is fine here>
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { MIGRATIONS_DIR } from '../../../db/migrationSource';
import { LintError, KapmanError } from '../cli/errors';
import { count, log } from '../cli/log';
import { Settings } from '../server/settings';
import { Rehearsal, rehearse } from './rehearse';
import { Finding, hypertableCreated, squawkRulesReplaced, TableFacts, TIMESCALE_RULES } from './timescaleRules';

export interface LintFinding extends Finding {
  /** The migration file, and the statement's place among its statements (from 1). */
  migration: string;
  statement: number;
  sql: string;
  source: 'squawk' | 'timescaledb' | 'lint';
}

export interface LintReport {
  database: string;
  where: Rehearsal['where'];
  migrations: string[];
  findings: LintFinding[];
  /** Findings a comment in the migration file silenced, with its reason. */
  silenced: Array<LintFinding & { reason: string }>;
  /** A migration that failed in the rehearsal: what came after it was not linted. */
  failure?: { migration: string; message: string };
  /** Baselines among the migrations: the replay of migrations linted when they were written, not linted again. */
  replays: string[];
}

/**
 * A baseline (db:squash's, exporting `squashes`) is not linted: its statements replay what
 * migrations the lint judged when they were written (their accepted findings with their reasons),
 * it runs only on an empty database (one that applied those migrations is carried past it), and
 * rewriting its statements to please a rule would change the schema its proof pins.
 */
function isBaseline(directory: string, file: string): boolean {
  const source = path.join(directory, file);
  return fs.existsSync(source) && /^export const squashes\b/m.test(fs.readFileSync(source, 'utf8'));
}

/**
 * squawk's rules left out, each for a reason that holds for every migration db:migrate runs.
 * Everything else squawk has applies.
 */
export const SQUAWK_EXCLUDED: Record<string, string> = {
  'require-lock-timeout': 'db:migrate sets lock_timeout (--lock-timeout, default 15 s) at the start of the batch\'s transaction',
  'require-statement-timeout': 'db:migrate sets statement_timeout = 0 on purpose: a migration\'s waits are bounded by --lock-timeout, and the TimescaleDB rules name the statements that run long on a live hypertable',
  'prefer-text-field': 'a column\'s type is chosen per column in db/contract.ts; changing it later is what changing-column-type flags',
  'prefer-bigint-over-int': 'a column\'s type is chosen per column in db/contract.ts; changing it later is what changing-column-type flags',
};

const IGNORE = /\/\/\s*kapman-lint-ignore\s+([\w-]+(?:\s*,\s*[\w-]+)*)\s*(?::\s*(.*?))?\s*$/gm;

/** The silencing comments of a migration file: rule -> reason ('' when none was given). */
export function silencingComments(source: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const m of source.matchAll(IGNORE)) for (const rule of m[1].split(/\s*,\s*/)) found.set(rule, (m[2] ?? '').trim());
  return found;
}

interface SquawkFinding {
  file: string;
  line: number;
  rule_name: string;
  message: string;
  help: string | null;
}

/** The squawk binary that the squawk-cli package brings for this platform (an optional dependency). */
function squawkBinary(): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('squawk-cli/js/index.js') as { getBinaryPath(): string }).getBinaryPath();
  } catch (err) {
    throw new LintError(`squawk cannot run here: ${(err as Error).message.split('\n')[0]}`,
      'install the dependencies with optional ones included (`npm ci --include=optional`); squawk-cli brings its binary for linux, macOS and Windows on x64, and linux and macOS on arm64');
  }
}

/** squawk over each migration's statements, one file per migration; findings by migration and statement index. */
function runSquawk(migrations: Rehearsal['migrations']): Array<{ migration: string; statement: number; finding: SquawkFinding }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-lint-'));
  try {
    const starts = new Map<string, number[]>();
    for (const m of migrations) {
      let line = 0;
      const at: number[] = [];
      const text = m.statements.map((s) => {
        at.push(line);
        const written = `${s.trim().replace(/;$/, '')};\n`;
        line += written.split('\n').length - 1;
        return written;
      }).join('');
      starts.set(`${m.file}.sql`, at);
      fs.writeFileSync(path.join(dir, `${m.file}.sql`), text);
    }
    const files = [...starts.keys()];
    if (files.length === 0) return [];
    const r = spawnSync(squawkBinary(), ['--reporter', 'json', '--assume-in-transaction', '--pg-version', '15',
      ...Object.keys(SQUAWK_EXCLUDED).map((rule) => `--exclude=${rule}`), ...files], { cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.error || (r.status !== 0 && r.status !== 1) || !r.stdout.trim().startsWith('[')) {
      throw new LintError(`squawk failed: ${r.error?.message ?? (r.stderr || r.stdout).trim().split('\n')[0]}`, 'run it with --debug for the details; nothing was changed');
    }
    return (JSON.parse(r.stdout) as SquawkFinding[]).map((finding) => {
      const at = starts.get(path.basename(finding.file)) ?? [0];
      const statement = at.filter((start) => start <= finding.line).length - 1;
      return { migration: path.basename(finding.file).replace(/\.sql$/, ''), statement: Math.max(0, statement), finding };
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The findings of squawk and the TimescaleDB rules on a rehearsal, split into those that stand and those silenced. */
export function lintRehearsal(rehearsal: Rehearsal, o: { directory?: string } = {}): LintReport {
  const directory = o.directory ?? MIGRATIONS_DIR;
  const replays = rehearsal.migrations.filter((m) => isBaseline(directory, m.file)).map((m) => m.file);
  const r = { ...rehearsal, migrations: rehearsal.migrations.filter((m) => !replays.includes(m.file)) };
  const hypertables = new Map([...(r.after?.hypertables ?? []), ...r.before.hypertables].map((h) => [h.table, h.timeColumn]));
  const existed = new Set(r.before.tables.map((t) => t.name));
  const all: LintFinding[] = [];
  for (const sql of r.migrations.flatMap((m) => m.statements)) {
    const created = hypertableCreated(sql);
    if (created && !hypertables.has(created.table)) hypertables.set(created.table, created.timeColumn);
  }
  const table = (name: string): TableFacts | undefined => (hypertables.has(name) || existed.has(name)
    ? { timeColumn: hypertables.get(name), mayHoldRows: existed.has(name) } : undefined);

  const ours = new Map<string, Set<string>>(); // migration\0statement -> squawk rules it replaces
  for (const m of r.migrations) {
    m.statements.forEach((sql, i) => {
      for (const rule of TIMESCALE_RULES) {
        const finding = rule.check(sql, table);
        if (finding) all.push({ ...finding, migration: m.file, statement: i + 1, sql, source: 'timescaledb' });
      }
      ours.set(`${m.file}\0${i}`, squawkRulesReplaced(sql, table));
    });
  }
  for (const { migration, statement, finding } of runSquawk(r.migrations)) {
    if (ours.get(`${migration}\0${statement}`)?.has(finding.rule_name)) continue;
    const sql = r.migrations.find((m) => m.file === migration)?.statements[statement] ?? '';
    all.push({ rule: finding.rule_name, why: finding.message, instead: finding.help ?? undefined, migration, statement: statement + 1, sql, source: 'squawk' });
  }

  const findings: LintFinding[] = [];
  const silenced: LintReport['silenced'] = [];
  for (const m of r.migrations) {
    const file = path.join(directory, m.file);
    const comments = fs.existsSync(file) ? silencingComments(fs.readFileSync(file, 'utf8')) : new Map<string, string>();
    for (const [rule, reason] of comments) {
      if (!reason) {
        findings.push({ rule: 'lint-ignore-without-reason', why: `the comment silencing ${rule} gives no reason, so it silences nothing`,
          instead: `// kapman-lint-ignore ${rule}: <why it is fine here>`, migration: m.file, statement: 0, sql: '', source: 'lint' });
      }
    }
    for (const f of all.filter((x) => x.migration === m.file)) {
      const reason = comments.get(f.rule);
      if (reason) silenced.push({ ...f, reason });
      else findings.push(f);
    }
  }
  const failure = r.failure ? { migration: r.failure.file, message: r.failure.error.message } : undefined;
  return { database: r.database, where: r.where, migrations: rehearsal.migrations.map((m) => m.file), findings, silenced, failure, replays };
}

/** Prints the report: each finding with its migration, statement, rule, why and what instead. */
export function printLintReport(report: LintReport): void {
  for (const f of report.findings) {
    log(`${f.migration}${f.statement ? `, statement ${f.statement}` : ''}: ${f.rule} (${f.source})`);
    if (f.sql) log(`  ${f.sql.replace(/\s+/g, ' ').trim()}`);
    log(`  why: ${f.why}`);
    if (f.instead) log(`  instead: ${f.instead}`);
  }
  for (const s of report.silenced) log(`${s.migration}, statement ${s.statement}: ${s.rule} silenced: ${s.reason}`);
  for (const b of report.replays) log(`${b}: a baseline, the replay of migrations linted when they were written: not linted again`);
  if (report.failure) log(`the rehearsal stopped at ${report.failure.migration}: ${report.failure.message}`);
  const silenced = report.silenced.length ? `, ${report.silenced.length} silenced` : '';
  log(`lint: ${count(report.findings.length, 'finding')} in ${count(report.migrations.length, 'migration')}${silenced} (squawk and ${TIMESCALE_RULES.length} TimescaleDB rules, rehearsed on a ${report.where})`);
}

/** Throws the lint's error when findings stand, or the rehearsal's failure when the migrations would fail. */
export function lintOutcome(report: LintReport, failure?: KapmanError): void {
  if (report.findings.length) {
    const err = new LintError(`the lint found ${count(report.findings.length, 'problem')} in the migrations of ${report.database}; nothing was changed`,
      'change the migration as each finding\'s "instead" says, or accept a finding with `// kapman-lint-ignore <rule>: <reason>` in the migration file');
    err.result = report;
    throw err;
  }
  if (failure) {
    failure.result = report;
    throw failure;
  }
}

/** `kapman-db lint`'s work: rehearse the pending migrations (or `only` these), lint them, report. */
export async function lint(settings: Settings, o: { only?: string[]; directory?: string } = {}): Promise<LintReport> {
  const rehearsal = await rehearse(settings, { only: o.only, directory: o.directory });
  if (rehearsal.migrations.length === 0 && !rehearsal.failure) {
    log(`nothing to lint: no migration pending on ${settings.database}`);
    return lintRehearsal(rehearsal, o);
  }
  const report = lintRehearsal(rehearsal, o);
  printLintReport(report);
  lintOutcome(report, rehearsal.failure?.error);
  return report;
}
