import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadLab } from './lab-loader.js';

/** The compiled tree this test runs from (dist/ or a developer's own outDir). */
const COMPILED = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const REPO = path.resolve(COMPILED, '..');
/** What the container image ships of the compiled tree (Dockerfile). */
const SHIPPED_DIRS = ['node', 'failover', 'sync-protocol', 'ruleset-dist'];
/** Dev-only trees: the lab and its tools, the benchmarks, the fuzzers. */
const DEV_DIRS = ['cluster-tests', 'bench', 'fuzz'];
/** The one reference from shipped code to the lab: loaded by path, only where it exists. */
const OPTIONAL_LAB_HOOK = { from: 'node/cli/lab-loader.js', to: 'cluster-tests/cli/index.js' };

function jsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.js'))
    .map((e) => path.join(e.parentPath, e.name));
}

/** Relative module references of a compiled file: static and dynamic imports, re-exports, new URL(..., import.meta.url). */
function references(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/\b(?:from|import)\s*\(?\s*(['"])(\.{1,2}\/[^'"]+)\1/g)) out.push(m[2]);
  for (const m of text.matchAll(/new URL\(\s*(['"])(\.{1,2}\/[^'"]+)\1\s*,\s*import\.meta\.url/g)) out.push(m[2]);
  return out.map((s) => path.relative(COMPILED, path.resolve(path.dirname(file), s)));
}

/** The compiled files the Dockerfile keeps of cluster-tests/ (the compose stack's traffic tools). */
function keptTools(): string[] {
  const dockerfile = readFileSync(path.join(REPO, 'Dockerfile'), 'utf8');
  return [...new Set([...dockerfile.matchAll(/dist\/(cluster-tests\/tools\/[\w-]+\.js)\b/g)].map((m) => m[1]))];
}

describe('the shipped code and the lab', () => {
  it('no shipped module imports the lab, the benchmarks, the fuzzers or a test', () => {
    const bad: string[] = [];
    let files = 0;
    for (const dir of SHIPPED_DIRS) {
      for (const file of jsFiles(path.join(COMPILED, dir))) {
        const from = path.relative(COMPILED, file);
        if (from.endsWith('.test.js')) continue;
        files++;
        for (const to of references(file)) {
          if (from === OPTIONAL_LAB_HOOK.from && to === OPTIONAL_LAB_HOOK.to) continue;
          if (DEV_DIRS.some((d) => to.startsWith(`${d}/`)) || to.endsWith('.test.js')) bad.push(`${from} -> ${to}`);
        }
      }
    }
    assert.ok(files > 100, `read ${files} compiled files under ${COMPILED}`);
    assert.deepEqual(bad, []);
  });

  it('the traffic tools the image keeps import nothing else of the tree, and are the ones the compose stack runs', () => {
    const kept = keptTools();
    assert.ok(kept.length > 0, 'the Dockerfile names the tools it keeps');
    for (const tool of kept) assert.deepEqual(references(path.join(COMPILED, tool)), [], tool);
    const compose = readFileSync(path.join(REPO, 'docker-compose.yml'), 'utf8');
    const composeTest = readFileSync(path.join(REPO, 'cluster-tests/compose/run-compose-test.ts'), 'utf8');
    const used = [
      ...[...compose.matchAll(/\/opt\/hafw\/dist\/(cluster-tests\/[\w/-]+\.js)/g)].map((m) => m[1]),
      ...[...composeTest.matchAll(/\$\{TOOLS\}\/([\w/-]+\.js)/g)].map((m) => `cluster-tests/${m[1]}`),
    ];
    assert.ok(used.length >= 2, `found ${used.join(', ')}`);
    for (const u of used) assert.ok(kept.includes(u), `${u} is used in the image but the Dockerfile removes it`);
  });

  it('a lab command where the lab is missing says so and where to run it', async () => {
    const missing = pathToFileURL('/nonexistent-hafw/cluster-tests/cli/index.js');
    await assert.rejects(loadLab('demo', missing), (err: Error) => {
      assert.match(err.message, /the lab is not part of this installation/);
      assert.match(err.message, /`hafw demo` runs from a source checkout/);
      return true;
    });
  });
});
