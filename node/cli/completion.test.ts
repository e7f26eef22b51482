import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { helpSubcommands, fileOptions } from './completion.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/hafw.js');

describe('hafw completion bash', () => {
  let dir: string;
  let script: string;
  before(() => {
    const r = spawnSync(process.execPath, [BIN, 'completion', 'bash'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    dir = mkdtempSync(path.join(tmpdir(), 'hafw-compl-'));
    script = path.join(dir, 'hafw.bash');
    writeFileSync(script, r.stdout);
    writeFileSync(path.join(dir, 'rules.nft'), '');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** What bash offers after typing `line` (the last word is the one completed). */
  function complete(line: string): string[] {
    const words = line.split(' ');
    const r = spawnSync('bash', ['--norc', '-c', `source '${script}'; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _hafw; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8', cwd: dir });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean).sort();
  }

  it('completes commands, subcommands and each command\'s options from the command table', () => {
    assert.deepEqual(complete('hafw ru'), ['ruleset']);
    assert.deepEqual(complete('hafw s'), ['schema', 'status', 'sync']);
    assert.deepEqual(complete('hafw ruleset ch'), ['check']);
    assert.deepEqual(complete('hafw ruleset check --c'), ['--config']);
    assert.deepEqual(complete('hafw node --ch'), ['--check']);
    assert.deepEqual(complete('hafw ct l'), ['list']);
    // The remote options come from the shared node-target help, in every command that talks to a node.
    assert.deepEqual(complete('hafw status --'), ['--ca-file', '--cert-file', '--help', '--json', '--key-file', '--socket', '--token-file', '--url']);
    assert.deepEqual(complete('hafw ruleset apply --t'), ['--token-file']);
    assert.deepEqual(complete('hafw version --'), ['--help', '--json']);
  });

  it('completes hafw import (its sources, options and files) and hafw ct import', () => {
    assert.deepEqual(complete('hafw im'), ['import']);
    assert.deepEqual(complete('hafw import '), ['--conntrackd', '--force', '--help', '--json', '--keepalived', '--key-file', '--name', '--output', '--ruleset', 'conntrackd', 'keepalived']);
    assert.deepEqual(complete('hafw import keepalived --con'), ['--conntrackd']);
    assert.deepEqual(complete('hafw import keepalived --conntrackd ru'), ['rules.nft']);
    assert.deepEqual(complete('hafw ct imp'), ['import']);
    assert.deepEqual(complete('hafw ct import --sk'), ['--skip-bad']);
    assert.deepEqual(complete('hafw ct import ru'), ['rules.nft']);
  });

  it('completes file names after options that take a file, and for positional arguments', () => {
    assert.deepEqual(complete('hafw node --config ru'), ['rules.nft']);
    assert.deepEqual(complete('hafw ruleset check ru'), ['rules.nft']);
    assert.deepEqual(complete('hafw status --ca-file ru'), ['rules.nft']);
    assert.deepEqual(complete('hafw monitor --token-file ru'), ['rules.nft']);
  });

  it('reads subcommands and file options from the help forms the commands use', () => {
    assert.deepEqual(helpSubcommands('ct', 'usage: hafw ct <list|get|delete> [filters]'), ['list', 'get', 'delete']);
    assert.deepEqual(helpSubcommands('lab', 'usage: hafw lab up [--nodes 1|2] | status [--json] | down'), ['up', 'status', 'down']);
    assert.deepEqual(helpSubcommands('sync', 'usage: hafw sync stats [--json]'), ['stats']);
    assert.deepEqual(helpSubcommands('status', 'usage: hafw status [--json]'), []);
    assert.deepEqual(fileOptions('  --config FILE  x\n  --socket PATH  y\n  --json'), ['--config', '--socket']);
  });
});
