// db:restore's hints name the cause pg_restore's messages give, and the roles an archive's grants name are read as pg_dump writes them.
import { restoreCause, roleList } from '../../scripts/lib/backup/restore';

test.each([
  ['disk', 'pg_restore: error: could not execute query: ERROR:  could not extend file "base/16384/16999": No space left on device', /disk is full/],
  ['role', 'pg_restore: error: could not execute query: ERROR:  role "reader" does not exist', /role reader, which this server lacks: .*--no-acl/],
  ['version', 'pg_restore: error: unsupported version (1.16) in file header', /newer pg_dump than this pg_restore/],
  ['anything else', 'pg_restore: error: could not read from input file: end of file', /may be damaged/],
])('the hint for a %s failure names it', (_cause, line, hint) => {
  expect(restoreCause(['pg_restore: while PROCESSING TOC:', line])).toMatch(hint);
});

test('role lists: bare and quoted names, PUBLIC left out, up to WITH GRANT OPTION', () => {
  expect(roleList('reader, "Odd ""one""", PUBLIC WITH GRANT OPTION')).toEqual(['reader', 'Odd "one"']);
  expect(roleList('"a b"')).toEqual(['a b']);
  expect(roleList('PUBLIC')).toEqual([]);
});
