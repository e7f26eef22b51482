#!/usr/bin/env node
// Thin launcher: the CLI is compiled by tsc into dist/ (HAFW_DIST names another compiled
// tree, e.g. a developer's own --outDir that the lab tests run from).
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const main = process.env.HAFW_DIST
  ? pathToFileURL(path.join(process.env.HAFW_DIST, 'node', 'cli', 'main.js')).href
  : '../dist/node/cli/main.js';
import(main).then((m) => m.main(process.argv.slice(2))).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { console.error(`hafw: ${err && err.message ? err.message : err}`); process.exitCode = 1; },
);
