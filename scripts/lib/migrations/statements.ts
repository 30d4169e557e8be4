// SQL text as the lint and the rehearsal read it: a knex.raw of several statements split into
// each one, and the statements inside a DO block or a function's body, and inside an EXECUTE's
// string, brought out so that the rules read them as they would read them written plainly.

// What a scan skips whole: a string ('', E'' with backslashes), a quoted name, a dollar-quoted
// body, a line comment; and what it stops at: a block comment's start (they nest), a semicolon.
const TOKEN = /(?<![\w$])[eE]'(?:[^'\\]|\\.|'')*'|'(?:[^']|'')*'|"(?:[^"]|"")*"|(\$[A-Za-z_]\w*\$|\$\$)[^]*?\1|--[^\n]*|\/\*|;/g;

/** Where the block comment that starts at `from` ends (nested ones included). */
function blockCommentEnd(sql: string, from: number): number {
  let depth = 0;
  for (let i = from; i < sql.length - 1; i += 1) {
    if (sql.startsWith('/*', i)) {
      depth += 1;
      i += 1;
    } else if (sql.startsWith('*/', i)) {
      depth -= 1;
      i += 1;
      if (depth === 0) return i + 1;
    }
  }
  return sql.length;
}

/** Each part of `sql`: code, or what the scan skips whole (`kind` comment or quoted), in order. */
function parts(sql: string): Array<{ kind: 'code' | 'comment' | 'quoted' | 'semicolon'; text: string }> {
  const out: Array<{ kind: 'code' | 'comment' | 'quoted' | 'semicolon'; text: string }> = [];
  const re = new RegExp(TOKEN.source, 'g');
  let at = 0;
  for (let m = re.exec(sql); m; m = re.exec(sql)) {
    if (m.index > at) out.push({ kind: 'code', text: sql.slice(at, m.index) });
    let end = m.index + m[0].length;
    if (m[0] === '/*') end = blockCommentEnd(sql, m.index);
    const text = sql.slice(m.index, end);
    out.push({ kind: text === ';' ? 'semicolon' : text.startsWith('--') || text.startsWith('/*') ? 'comment' : 'quoted', text });
    at = end;
    re.lastIndex = end;
  }
  if (at < sql.length) out.push({ kind: 'code', text: sql.slice(at) });
  return out;
}

/** `sql` split at each semicolon that ends a statement (none inside a string, name, body or comment); empty ones dropped. */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const p of parts(sql)) {
    if (p.kind === 'semicolon') {
      out.push(current);
      current = '';
    } else current += p.text;
  }
  out.push(current);
  // A comment before a statement (a line's end after the one before) is left with the one before.
  return out.map((s) => s.replace(/^(?:\s*--[^\n]*)+/, '').trim()).filter((s) => withoutComments(s).trim() !== '');
}

/** `sql` with its comments left out (strings and bodies kept as written). */
export function withoutComments(sql: string): string {
  return parts(sql).map((p) => (p.kind === 'comment' ? ' ' : p.text)).join('');
}

// PL/pgSQL's words that stand before a statement in a body, not part of it.
const BLOCK_WORDS = /^(?:(?:begin|then|else|loop|declare\b[^]*?\bbegin|end\s+(?:if|loop|case)|elsif\b[^]*?\bthen|if\b[^]*?\bthen|when\b[^]*?\bthen|exception|<<\w+>>)\s+)+/i;

/**
 * The statements a rule reads in `statement`: itself, and, for a DO block or a function (a
 * dollar-quoted body), each statement of the body (PL/pgSQL's block words left out, PERFORM read
 * as SELECT), and the text of each string an EXECUTE runs.
 */
export function statementsWithin(statement: string): string[] {
  const out = [statement];
  for (const [, , body] of withoutComments(statement).matchAll(/(\$[A-Za-z_]\w*\$|\$\$)([^]*?)\1/g)) {
    for (const inner of splitStatements(body)) {
      const bare = inner.replace(BLOCK_WORDS, '').replace(/^perform\s/i, 'SELECT ').trim();
      if (bare && !/^end(\s+(if|loop|case))?$/i.test(bare)) out.push(...statementsWithin(bare));
      for (const executed of executedTexts(inner)) out.push(...splitStatements(executed).flatMap(statementsWithin));
    }
  }
  return out;
}

const LITERAL = String.raw`'((?:[^']|'')*)'`;

/** The text each EXECUTE in `code` runs, where it is a string or a format() of strings (its %I, %L and %s filled in). */
function executedTexts(code: string): string[] {
  const out: string[] = [];
  const unquote = (text: string) => text.replace(/''/g, "'");
  for (const m of code.matchAll(new RegExp(String.raw`\bexecute\s+(?:${LITERAL}|format\s*\(\s*${LITERAL}((?:\s*,\s*${LITERAL.replace('(', '(?:')})*)\s*\))`, 'gi'))) {
    if (m[1] !== undefined) {
      out.push(unquote(m[1]));
      continue;
    }
    const args = [...(m[3] ?? '').matchAll(new RegExp(LITERAL, 'g'))].map((a) => unquote(a[1]));
    out.push(unquote(m[2]).replace(/%[ILs]/g, (spec) => {
      const arg = args.shift() ?? spec;
      return spec === '%L' ? `'${arg.replace(/'/g, "''")}'` : arg;
    }));
  }
  return out;
}

/** Whether the statement ends the transaction it runs in (COMMIT, END, ROLLBACK, ABORT, PREPARE TRANSACTION), a savepoint's release or rollback aside. */
export function endsTransaction(statement: string): boolean {
  return /^\s*(commit|end|abort|rollback(?!\s+to\b)|prepare\s+transaction)\b(?!\s+prepared)/i.test(withoutComments(statement))
    && !/^\s*rollback\s+(work\s+|transaction\s+)?to\b/i.test(withoutComments(statement));
}
