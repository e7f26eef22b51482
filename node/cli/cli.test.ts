import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/hafw.js');

function hafw(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, HAFW_RUN_DIR: '/nonexistent-hafw-test' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('hafw command line', () => {
  it('lists the commands with --help and exits 0', () => {
    const r = hafw('--help');
    assert.equal(r.code, 0);
    assert.match(r.out, /^usage: hafw <command>/);
    for (const c of ['node', 'status', 'lab', 'demo', 'metrics']) assert.match(r.out, new RegExp(`^  ${c} `, 'm'));
  });

  it('has --help on every command', () => {
    for (const c of ['node', 'status', 'lab', 'demo', 'metrics']) {
      const r = hafw(c, '--help');
      assert.equal(r.code, 0, c);
      assert.match(r.out, new RegExp(`^usage: hafw ${c}`), c);
    }
  });

  it('exits 2 on an unknown command or option, naming it', () => {
    const a = hafw('frobnicate');
    assert.equal(a.code, 2);
    assert.match(a.err, /unknown command 'frobnicate'/);
    const b = hafw('status', '--bogus');
    assert.equal(b.code, 2);
    assert.match(b.err, /--bogus/);
  });

  it('exits 1 with advice when no node runs in this namespace', () => {
    const r = hafw('status');
    assert.equal(r.code, 1);
    assert.match(r.err, /no hafw node is running in this network namespace/);
  });

  it('node refuses a bad config file and names the setting', () => {
    const r = hafw('node', '--config', '/nonexistent/hafw.yaml');
    assert.equal(r.code, 1);
    assert.match(r.err, /\/nonexistent\/hafw\.yaml: \(top level\): cannot read config/);
  });
});
