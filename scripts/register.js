// Runs the commands' TypeScript without a build step: sucrase transpiles each file once and
// the result is cached by path, size and modification time, so a command's start pays for
// transpiling only what changed (about half of its start-up otherwise).
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const Module = require('module');

const CACHE = path.join(__dirname, '..', 'node_modules', '.cache', 'kapman-ts');
let sucrase; // loaded only on a cache miss

Module._extensions['.ts'] = (module, filename) => {
  const stat = fs.statSync(filename);
  const key = crypto.createHash('sha1').update(`${filename}\0${stat.size}\0${stat.mtimeMs}`).digest('hex');
  const cached = path.join(CACHE, `${key}.js`);
  let code;
  try {
    code = fs.readFileSync(cached, 'utf8');
  } catch {
    sucrase ??= require('sucrase');
    code = sucrase.transform(fs.readFileSync(filename, 'utf8'), { transforms: ['typescript', 'imports'], filePath: filename }).code;
    try {
      fs.mkdirSync(CACHE, { recursive: true });
      const partial = `${cached}.${process.pid}`; // written whole, then renamed: a concurrent reader never sees half
      fs.writeFileSync(partial, code);
      fs.renameSync(partial, cached);
    } catch {
      // No cache (a read-only checkout): transpiling each time still works.
    }
  }
  module._compile(code, filename);
};
