import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { listedCommands, manPage } from './man-page.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.resolve(HERE, '../../../bin/hafw.js');
const hafw = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, HAFW_DIST: path.resolve(HERE, '../..') } });

const KEEPALIVED = `vrrp_instance VI_1 {
    interface lan
    virtual_router_id 51
    priority 200
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass x
    }
    virtual_ipaddress {
        192.0.2.1/24 dev lan
        198.51.100.1/24 dev wan
    }
}
`;
const CONNTRACKD = `Sync {
    Mode FTFW { }
    Multicast {
        IPv4_address 225.0.0.50
        Group 3780
        IPv4_interface 203.0.113.1
        Interface sync
    }
}
`;

describe('hafw import (CLI)', function () {
  this.timeout(30000);
  let dir: string;
  const f = (name: string) => path.join(dir, name);
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hafw-import-cli-'));
    writeFileSync(f('keepalived.conf'), KEEPALIVED);
    writeFileSync(f('conntrackd.conf'), CONNTRACKD);
    writeFileSync(f('sync.key'), `${'ef'.repeat(32)}\n`, { mode: 0o600 });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a config that hafw node --check accepts, and lists what it did not map with file:line', () => {
    const r = hafw('import', 'keepalived', f('keepalived.conf'), '--conntrackd', f('conntrackd.conf'), '--name', 'fw-a', '--key-file', f('sync.key'), '-o', f('node.yaml'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`not mapped: ${f('keepalived.conf').replace(/\./g, '\\.')}:6: authentication \\{ \\.\\.\\. \\}: VRRPv3`));
    assert.match(r.stderr, /wrote .*node\.yaml/);
    assert.match(readFileSync(f('node.yaml'), 'utf8'), /vrid: 51/);
    const check = hafw('node', '--config', f('node.yaml'), '--check');
    assert.equal(check.status, 0, check.stdout + check.stderr);
    // Not over an existing file without --force.
    const again = hafw('import', 'keepalived', f('keepalived.conf'), '-o', f('node.yaml'));
    assert.equal(again.status, 1);
    assert.match(again.stderr, /exists already \(--force replaces it\)/);
    assert.equal(hafw('import', 'keepalived', f('keepalived.conf'), '-o', f('node.yaml'), '--force').status, 0);
  });

  it('a syntax error: FILE:LINE:COL and exit 1; --json says the same', () => {
    writeFileSync(f('broken.conf'), 'vrrp_instance X {\n  interface lan\n');
    const r = hafw('import', 'keepalived', f('broken.conf'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /broken\.conf:1:1: the block of 'vrrp_instance X' is never closed/);
    const j = hafw('import', 'keepalived', f('broken.conf'), '--json');
    assert.deepEqual({ ...JSON.parse(j.stdout), error: '', file: '' }, { ok: false, error: '', file: '', line: 1, col: 1 });
  });

  it('a config that does not pass yet (no vrid) is still written, with the error, and exit 1', () => {
    writeFileSync(f('novrid.conf'), 'vrrp_instance X {\n interface lan\n virtual_ipaddress {\n  192.0.2.1/24\n }\n}\n');
    const r = hafw('import', 'keepalived', f('novrid.conf'), '--json');
    assert.equal(r.status, 1);
    const j = JSON.parse(r.stdout) as { ok: boolean; config: string; errors: { path: string }[] };
    assert.equal(j.ok, false);
    assert.deepEqual(j.errors.map((e) => e.path), ['vrrp.vrid']);
    assert.match(j.config, /interface: lan/);
  });

  it('usage errors exit 2 with a hint; each source has its own --help; a missing file is named', () => {
    const r = hafw('import', 'keepalivd', 'x');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown import source 'keepalivd' \(did you mean 'keepalived'\?\)/);
    assert.equal(hafw('import').status, 2);
    assert.equal(hafw('import', 'conntrackd').status, 2);
    assert.equal(hafw('import', 'conntrackd', 'a', '--conntrackd', 'b').status, 2);
    const help = hafw('import', 'conntrackd', '--help');
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^usage: hafw import conntrackd FILE/);
    const missing = hafw('import', 'conntrackd', f('nope.conf'));
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /nope\.conf: no such file/);
  });

  it('its man page (generated from --help, a section per source) renders with man -l without warnings', function () {
    if (spawnSync('man', ['--version']).status !== 0) this.skip();
    const help = hafw('import', '--help').stdout;
    const subs = listedCommands(help, 'subcommands:');
    assert.deepEqual(subs.map((x) => x.name), ['keepalived', 'conntrackd']);
    const page = manPage({ name: 'hafw-import', section: 8, summary: 'write a node config from keepalived.conf or conntrackd.conf', help, version: '0', date: '2026-12-07', seeAlso: ['hafw(8)'], subsections: subs.map((x) => ({ title: `hafw import ${x.name}`, help: hafw('import', x.name, '--help').stdout })) });
    writeFileSync(f('hafw-import.8'), page);
    const r = spawnSync('man', ['-l', f('hafw-import.8')], { encoding: 'utf8', env: { ...process.env, MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '100' } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    const text = r.stdout.replace(/.\x08/g, '');
    assert.match(text, /hafw import keepalived/);
    assert.match(text, /--key-file PATH/);
  });
});
