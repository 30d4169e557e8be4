#!/usr/bin/env node
// `kapman-db <command>`: the package's bin, and what every `npm run db:*` script runs.
// The commands are TypeScript, transpiled on first use and cached (register.js).
require('./register');
require('./commands').main();
