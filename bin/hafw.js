#!/usr/bin/env node
// Thin launcher: the CLI is compiled by tsc into dist/. light-main runs the ruleset tools
// without loading the node's server code and hands every other command to main.js (which
// is also the fallback for a dist/ built before light-main existed).
const argv = process.argv.slice(2);
import('../dist/node/cli/light-main.js')
  .catch((err) => (err && err.code === 'ERR_MODULE_NOT_FOUND' ? import('../dist/node/cli/main.js') : Promise.reject(err)))
  .then((m) => m.main(argv))
  .then(
    (code) => { if (typeof code === 'number') process.exitCode = code; },
    (err) => { console.error(`hafw: ${err && err.message ? err.message : err}`); process.exitCode = 1; },
  );
