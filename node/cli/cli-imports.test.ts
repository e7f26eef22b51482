import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const BIN = path.join(ROOT, 'bin/hafw.js');

/** A module-loader hook that appends every module URL the process loads to $HAFW_TEST_LOADED. */
const HOOKS = `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  if (url.startsWith('file:')) appendFileSync(process.env.HAFW_TEST_LOADED, url + '\\n');
  return next(url, context);
}`;

/** The project's modules (relative to the compiled tree's node/) that `hafw ...args` loads. */
function modulesLoadedBy(...args: string[]): string[] {
  const dir = mkdtempSync(path.join(tmpdir(), 'hafw-imports-'));
  try {
    const log = path.join(dir, 'loaded.txt');
    writeFileSync(log, '');
    const hooks = path.join(dir, 'hooks.mjs');
    writeFileSync(hooks, HOOKS);
    const register = path.join(dir, 'register.mjs');
    writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
    const r = spawnSync(process.execPath, ['--import', pathToFileURL(register).href, BIN, ...args], { encoding: 'utf8', env: { ...process.env, HAFW_TEST_LOADED: log, HAFW_RUN_DIR: '/nonexistent-hafw-test' } });
    assert.equal(r.status, 0, r.stderr);
    return readFileSync(log, 'utf8').split('\n').filter((u) => u.includes('/node/')).map((u) => u.slice(u.lastIndexOf('/node/') + 6));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('hafw: what a timed command loads', () => {
  // `ruleset apply` is the CLI half of ruleset-apply-10k and ruleset-add-1 (docs/performance.md):
  // it sends text to the node and needs the API client, not the rule engine.
  it('`ruleset apply` loads neither the ruleset dispatcher nor the rule engine', () => {
    const loaded = modulesLoadedBy('ruleset', 'apply', '--help');
    assert.ok(loaded.includes('cli/ruleset-apply.js'), loaded.join(' '));
    for (const heavy of ['cli/ruleset-cmd.js', 'ruleset/engine.js', 'ruleset/parser.js', 'ruleset/compiler.js']) {
      assert.ok(!loaded.includes(heavy), `${heavy} is loaded`);
    }
  });

  it('the other ruleset subcommands still go through the dispatcher', () => {
    assert.ok(modulesLoadedBy('ruleset', 'show', '--help').includes('cli/ruleset-cmd.js'));
  });
});
