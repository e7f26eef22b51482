#!/usr/bin/env node
// Records what was built, at build time (npm run build): package.json's version and, when
// the tree is a git checkout, its commit (with "-dirty" when files differ from it). The
// installed package never runs git: it reads dist/build-info.json (node/build-info.ts).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));

function git(...args) {
  return execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
}

let commit = null;
try {
  commit = git('rev-parse', 'HEAD');
  // Only tracked files count: dist/ and node_modules are ignored or untracked.
  if (git('status', '--porcelain', '--untracked-files=no') !== '') commit += '-dirty';
} catch {
  // Not a checkout (a source tarball) or no git: the version alone says what it is.
}

const out = process.argv[2] ?? path.join(root, 'dist', 'build-info.json');
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify({ version, commit })}\n`);
