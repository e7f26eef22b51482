#!/usr/bin/env node
// Thin launcher: the CLI is compiled by tsc into dist/.
import('../dist/node/cli/main.js').then((m) => m.main(process.argv.slice(2))).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { console.error(`hafw: ${err && err.message ? err.message : err}`); process.exitCode = 1; },
);
