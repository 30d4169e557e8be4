// The lint: what the rehearsed migrations send, read by squawk (the Postgres migration linter)
// and by our TimescaleDB rules, which squawk cannot know; and what each migration did, read from
// the schema before and after it (effectRules.ts), however its SQL was written. A finding that
// is accepted is silenced in the migration file itself, with a reason; it silences that rule only:
//   // kapman-lint-ignore <rule>[, <rule>]: <why it is fine here>
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { MIGRATIONS_DIR } from '../../../db/migrationSource';
import { LintError, KapmanError } from '../cli/errors';
import { count, log } from '../cli/log';
import { Settings } from '../server/settings';
import { Rehearsal, RehearsedMigration, rehearse, RehearseOptions } from './rehearse';
import { effectFindings, EFFECT_RULES } from './effectRules';
import { statementsWithin } from './statements';
import { Finding, hypertableCreated, squawkRulesReplaced, TableFacts, tableName, TIMESCALE_RULES } from './timescaleRules';

export interface LintFinding extends Finding {
  /** The migration file, and the statement's place among its statements (from 1; 0: the file, or no statement names it). */
  migration: string;
  statement: number;
  sql: string;
  /** squawk's rule, ours on the statement's text, ours on what the migration did to the schema, or the lint's own. */
  source: 'squawk' | 'timescaledb' | 'catalog' | 'lint';
}

export interface LintReport {
  database: string;
  where: Rehearsal['where'];
  migrations: string[];
  findings: LintFinding[];
  /** What is worth knowing but harms no live table (an API TimescaleDB deprecates): printed, never a reason to stop. */
  notes: LintFinding[];
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
  'prefer-bigint-over-smallint': 'a column\'s type is chosen per column in db/contract.ts; changing it later is what changing-column-type flags',
  'ban-char-field': 'a column\'s type is chosen per column in db/contract.ts (a one-letter code is char(1) on purpose); changing it later is what the lint flags',
};

/**
 * Rules whose findings are notes: TimescaleDB 2.19 still runs what it deprecates, and will until
 * its next major release, so a migration written with it is as safe on a live table as it was.
 */
export const NOTE_RULES = ['timescaledb-deprecated-api'];

/**
 * squawk's prefer-identity, but not on knex's own `t.increments()`: the builder writes `serial`
 * and has no identity column to offer; a `serial` written by hand is still flagged.
 */
const KNEX_INCREMENTS = /"[^"]+" (big)?serial primary key/;

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

/** squawk over each migration's statements, one file per migration; findings by migration and statement index (from 0). */
function runSquawk(migrations: Array<Pick<RehearsedMigration, 'file' | 'statements' | 'inTransaction'>>): Array<{ migration: string; statement: number; finding: SquawkFinding }> {
  // A migration that runs outside a transaction is read as such: CONCURRENTLY is right there.
  return [true, false].flatMap((inTransaction) => squawkOn(migrations.filter((m) => m.inTransaction === inTransaction), inTransaction));
}

function squawkOn(migrations: Array<Pick<RehearsedMigration, 'file' | 'statements'>>, inTransaction: boolean): Array<{ migration: string; statement: number; finding: SquawkFinding }> {
  if (migrations.length === 0) return [];
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
    const r = spawnSync(squawkBinary(), ['--reporter', 'json', ...(inTransaction ? ['--assume-in-transaction'] : []), '--pg-version', '15',
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

/**
 * What the rules on a statement's text know of each table when statement `i` of `m` runs: a
 * hypertable (on which column, with what compression) as the schema before and after the
 * migration and the statements before it say; one that may hold rows when it was on the target
 * before the batch and this migration has not created it again by then.
 */
function tableFacts(r: Rehearsal, m: RehearsedMigration): (name: string, i: number) => TableFacts | undefined {
  const before = m.before ?? r.before;
  const hypertables = new Map([...(m.after?.hypertables ?? []), ...before.hypertables].map((h) => [h.table, h]));
  const created = new Map<string, { timeColumn: string; at: number }>();
  m.statements.forEach((sql, i) => {
    for (const piece of statementsWithin(sql)) {
      const made = hypertableCreated(piece);
      if (made && !created.has(made.table)) created.set(made.table, { timeColumn: made.timeColumn, at: i });
    }
  });
  const startOf = r.before.storage;
  const existed = (t: string) => startOf[t] !== undefined && before.storage[t]?.oid === startOf[t].oid;
  // Where this migration creates a table again (another oid after it), its rows are gone from the CREATE on.
  const createdAgainAt = (t: string): number | undefined => {
    if (!existed(t)) return undefined;
    const after = m.after?.storage?.[t];
    if (m.after && (!after || after.oid === startOf[t].oid)) return undefined;
    const at = m.statements.findIndex((sql) => statementsWithin(sql).some((p) => {
      const create = /^\s*create\s+(?:unlogged\s+)?table\s+(?:if\s+not\s+exists\s+)?((?:"(?:[^"]|"")+"|[\w$]+)(?:\s*\.\s*(?:"(?:[^"]|"")+"|[\w$]+))?)/i.exec(p);
      return create !== null && tableName(create[1]) === t;
    }));
    return at < 0 ? (m.after ? 0 : undefined) : at;
  };
  return (name, i) => {
    const h = hypertables.get(name);
    const made = created.get(name);
    const timeColumn = h?.timeColumn ?? (made && made.at <= i ? made.timeColumn : undefined);
    const again = createdAgainAt(name);
    const mayHoldRows = existed(name) && (again === undefined || i < again);
    if (!timeColumn && !mayHoldRows) return undefined;
    const compression = before.hypertables.find((x) => x.table === name)?.compression;
    const compressedBefore = r.before.hypertables.find((x) => x.table === name)?.compression;
    return { timeColumn, mayHoldRows, compression, mayHoldCompressedChunks: Boolean(compressedBefore) && mayHoldRows };
  };
}

/** The findings of squawk, the TimescaleDB rules and the rules on what each migration did, split into those that stand and those silenced. */
export function lintRehearsal(rehearsal: Rehearsal, o: { directory?: string } = {}): LintReport {
  const directory = o.directory ?? MIGRATIONS_DIR;
  if (rehearsal.migrations.some((m) => !m.before)) throw new Error('the lint reads the schema before and after each migration: rehearse with eachSchema');
  const replays = rehearsal.migrations.filter((m) => isBaseline(directory, m.file)).map((m) => m.file);
  const r = { ...rehearsal, migrations: rehearsal.migrations.filter((m) => !replays.includes(m.file)) };
  const all: LintFinding[] = [];
  const replaced = new Map<string, Set<string>>(); // migration\0statement index -> squawk rules replaced there
  const replacedAt = (file: string, i: number) => replaced.get(`${file}\0${i}`) ?? replaced.set(`${file}\0${i}`, new Set()).get(`${file}\0${i}`)!;
  for (const m of r.migrations) {
    const facts = tableFacts(r, m);
    m.statements.forEach((sql, i) => {
      const table = (name: string) => facts(name, i);
      const fired = new Set<string>();
      for (const piece of statementsWithin(sql)) {
        for (const rule of TIMESCALE_RULES) {
          const finding = fired.has(rule.name) ? undefined : rule.check(piece, table);
          if (!finding) continue;
          fired.add(rule.name);
          all.push({ ...finding, migration: m.file, statement: i + 1, sql, source: 'timescaledb' });
        }
        for (const rule of squawkRulesReplaced(piece, table)) replacedAt(m.file, i).add(rule);
      }
    });
    if (!m.before || !m.after) continue; // it failed (what it did is not known), or the rehearsal read no schema of each
    for (const f of effectFindings({ ...m, before: m.before, after: m.after, batchBefore: r.before, rows: r.rows, database: r.database })) {
      // The same rule on the statement's text said it already, of that statement.
      if (all.some((x) => x.source === 'timescaledb' && x.migration === m.file && x.rule === f.rule && (f.statement === 0 || x.statement === f.statement))) continue;
      all.push({ rule: f.rule, why: f.why, instead: f.instead, migration: m.file, statement: f.statement, sql: m.statements[f.statement - 1] ?? '', source: 'catalog' });
      if (f.statement) for (const rule of f.replaces) replacedAt(m.file, f.statement - 1).add(rule);
    }
  }
  for (const { migration, statement, finding } of runSquawk(r.migrations)) {
    if (replaced.get(`${migration}\0${statement}`)?.has(finding.rule_name)) continue;
    const sql = r.migrations.find((m) => m.file === migration)?.statements[statement] ?? '';
    if (finding.rule_name === 'prefer-identity' && KNEX_INCREMENTS.test(sql)) continue;
    all.push({ rule: finding.rule_name, why: finding.message, instead: finding.help ?? undefined, migration, statement: statement + 1, sql, source: 'squawk' });
  }

  all.sort((a, b) => r.migrations.findIndex((m) => m.file === a.migration) - r.migrations.findIndex((m) => m.file === b.migration) || a.statement - b.statement);
  const findings: LintFinding[] = [];
  const notes: LintFinding[] = [];
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
      else (NOTE_RULES.includes(f.rule) ? notes : findings).push(f);
    }
  }
  const failure = r.failure ? { migration: r.failure.file, message: r.failure.error.message } : undefined;
  return { database: r.database, where: r.where, migrations: rehearsal.migrations.map((m) => m.file), findings, notes, silenced, failure, replays };
}

/** Prints the report: each finding with its migration, statement, rule, why and what instead; a failed rehearsal as that, never as "0 findings". */
export function printLintReport(report: LintReport): void {
  for (const [f, note] of [...report.findings.map((x) => [x, false] as const), ...report.notes.map((x) => [x, true] as const)]) {
    log(`${f.migration}${f.statement ? `, statement ${f.statement}` : ''}: ${note ? 'note: ' : ''}${f.rule} (${f.source})`);
    if (f.sql) log(`  ${f.sql.replace(/\s+/g, ' ').trim()}`);
    log(`  why: ${f.why}`);
    if (f.instead) log(`  instead: ${f.instead}`);
  }
  for (const s of report.silenced) log(`${s.migration}${s.statement ? `, statement ${s.statement}` : ''}: ${s.rule} silenced: ${s.reason}`);
  for (const b of report.replays) log(`${b}: a baseline, the replay of migrations linted when they were written: not linted again`);
  const silenced = `${report.notes.length ? `, ${count(report.notes.length, 'note')}` : ''}${report.silenced.length ? `, ${report.silenced.length} silenced` : ''}`;
  const rules = `squawk, ${TIMESCALE_RULES.length} TimescaleDB rules and ${EFFECT_RULES.length} on what each migration does, rehearsed on ${report.where === 'the target, in a transaction rolled back' ? report.where : `a ${report.where}`}`;
  if (report.failure) {
    const before = report.findings.length ? `; ${count(report.findings.length, 'finding')} above, in the statements before the failure${silenced}` : '';
    log(`lint: not done, the rehearsal failed: ${report.failure.message}; what came after ${report.failure.migration} was not linted, and what it did was not read${before} (${rules})`);
    return;
  }
  log(`lint: ${count(report.findings.length, 'finding')} in ${count(report.migrations.length, 'migration')}${silenced} (${rules})`);
}

/** Throws the lint's error when findings stand, or the rehearsal's failure when the migrations would fail. */
export function lintOutcome(report: LintReport, failure?: KapmanError): void {
  if (report.findings.length) {
    const err = new LintError(`the lint found ${count(report.findings.length, 'problem')} in the migrations of ${report.database}; nothing was changed`,
      'change the migration as each finding\'s "instead" says, or accept a finding with `// kapman-lint-ignore <rule>: <reason>` in the migration file (it silences that rule only; docs/lint.md)');
    err.result = report;
    throw err;
  }
  if (failure) {
    failure.result = report;
    throw failure;
  }
}

/** `kapman-db lint`'s work: rehearse the pending migrations (or `only` these), lint them, report. */
export async function lint(settings: Settings, o: Pick<RehearseOptions, 'only' | 'directory' | 'pgBin' | 'onTarget' | 'builtFrom'> = {}): Promise<LintReport> {
  const rehearsal = await rehearse(settings, { ...o, eachSchema: true });
  if (rehearsal.migrations.length === 0 && !rehearsal.failure) {
    log(`nothing to lint: no migration pending on ${settings.database}`);
    return lintRehearsal(rehearsal, o);
  }
  const report = lintRehearsal(rehearsal, o);
  printLintReport(report);
  lintOutcome(report, rehearsal.failure?.error);
  return report;
}
