// Jest's transform for the TypeScript under tests/ and scripts/: sucrase, as scripts/register.js
// runs the commands. Transpiling only (type-checking is `npm run typecheck`'s job); lines keep
// their numbers, so stack traces point at the source.
const { transform } = require('sucrase');

module.exports = {
  process(source, filePath) {
    const { code, sourceMap } = transform(source, {
      transforms: ['typescript', 'imports', 'jest'], filePath, sourceMapOptions: { compiledFilename: filePath },
    });
    return { code, map: sourceMap };
  },
};
