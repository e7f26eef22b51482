import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildUdp } from '../packet/build.js';
import { writePcap } from '../packet/pcap.js';

// The compiled CLI entry next to this test (whatever the output directory is).
const ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'main.js');

let launcher = '';

function hafw(...args: string[]) {
  const r = spawnSync(process.execPath, [launcher, ...args], { encoding: 'utf8', env: { ...process.env, HAFW_RUN_DIR: '/nonexistent-hafw-test' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const GOOD = `define lan = 192.0.2.0/24
table inet filter {
  set blocked {
    type ipv4_addr
    elements = { 198.51.100.7 }
  }
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    ip saddr @blocked drop
    ip saddr $lan ct state new accept
  }
}
`;

const BAD = `table inet filter {
  chain forward {
    type filter hook forward priority 0; policy drop;
    tcp dport 22 acept
  }
}
`;

describe('hafw ruleset / schema / monitor command line', () => {
  let dir: string;
  let good: string;
  let bad: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hafw-cli-test-'));
    good = path.join(dir, 'good.nft');
    bad = path.join(dir, 'bad.nft');
    writeFileSync(good, GOOD);
    writeFileSync(bad, BAD);
    launcher = path.join(dir, 'hafw.mjs');
    writeFileSync(launcher, `import(${JSON.stringify(ENTRY)}).then((m) => m.main(process.argv.slice(2))).then((c) => { process.exitCode = c; });\n`);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('check and convert expand includes (-I DIR as nft) and report an included file\'s error at its own line:col', () => {
    const inc = path.join(dir, 'inc');
    mkdirSync(inc, { recursive: true });
    writeFileSync(path.join(inc, 'rules.nft'), 'ip saddr 192.0.2.9 drop\n');
    writeFileSync(path.join(inc, 'broken.nft'), '\n  tcp dport 22 acept\n');
    const main = path.join(dir, 'with-include.nft');
    writeFileSync(main, 'table inet t {\n  chain c {\n    type filter hook forward priority 0;\n    include "rules.nft"\n  }\n}\n');
    const ok = hafw('ruleset', 'check', '-I', inc, main);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /ok: 1 tables, 1 chains, 1 rules/);
    const conv = hafw('ruleset', 'convert', '-I', inc, main, '--to', 'nft');
    assert.equal(conv.code, 0, conv.err);
    assert.match(conv.out, /ip saddr 192\.0\.2\.9 drop/);
    // Not in /etc (nft's default include path): refused at the include.
    const missing = hafw('ruleset', 'check', main);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /with-include\.nft:4:5: File not found: rules\.nft/);
    writeFileSync(main, 'table inet t {\n  chain c {\n    include "broken.nft"\n  }\n}\n');
    const bad = hafw('ruleset', 'check', '--includepath', inc, main, '--json');
    assert.equal(bad.code, 1);
    assert.deepEqual(JSON.parse(bad.out).errors, [{ file: path.join(inc, 'broken.nft'), line: 2, col: 16, message: "unknown match or statement 'acept'" }]);
  });

  it('replay --ruleset expands includes too: an included drop rule decides, an included error names its file', () => {
    const inc = path.join(dir, 'replay-inc');
    mkdirSync(inc, { recursive: true });
    writeFileSync(path.join(inc, 'drop53.nft'), 'udp dport 53 drop\n');
    const main = path.join(dir, 'replay-main.nft');
    writeFileSync(main, 'table ip t {\n  chain c {\n    type filter hook forward priority 0;\n    include "drop53.nft"\n  }\n}\n');
    const pcap = path.join(dir, 'two.pcap');
    writeFileSync(pcap, writePcap([53, 54].map((dport, i) => ({ data: buildUdp({ src: '192.0.2.1', dst: '198.51.100.1', sport: 1000, dport, payload: 8 }), tsNs: 1_700_000_000_000_000_000n + BigInt(i) }))));
    const r = hafw('replay', '--pcap', pcap, '--ruleset', main, '-I', inc, '--json');
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(r.out.trim().split('\n').slice(0, 2).map((l) => (JSON.parse(l) as { verdict: string }).verdict), ['drop', 'accept']);
    writeFileSync(path.join(inc, 'drop53.nft'), 'udp dport 53 dorp\n');
    const bad = hafw('replay', '--pcap', pcap, '--ruleset', main, '-I', inc);
    assert.equal(bad.code, 1);
    assert.match(bad.err, new RegExp(`${path.join(inc, 'drop53.nft').replace(/[.]/g, '\\.')}:1:14: unknown match or statement 'dorp'`));
  });

  it('check prints the counts and exits 0 for a valid ruleset', () => {
    const r = hafw('ruleset', 'check', good);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /good\.nft: ok: 1 tables, 1 chains, 3 rules, 1 sets \([\d.]+ ms\)/);
  });

  it('check --json prints the documented object', () => {
    const r = hafw('ruleset', 'check', good, '--json');
    assert.equal(r.code, 0);
    const j = JSON.parse(r.out) as Record<string, unknown>;
    assert.deepEqual(Object.keys(j), ['ok', 'tables', 'chains', 'rules', 'sets', 'ms', 'errors', 'warnings']);
    assert.equal(j.ok, true);
    assert.equal(j.rules, 3);
    assert.equal(typeof j.ms, 'number');
  });

  it('check warns (exit 0) about what the datapath cannot enforce, and with --config runs the lock-out check', () => {
    const guarded = path.join(dir, 'guarded.nft');
    writeFileSync(guarded, 'table inet f {\n  chain in { type filter hook input priority 0; policy drop; ct state established accept; tcp dport 22 accept; icmpv6 type echo-request accept }\n}\n');
    const token = path.join(dir, 'api.token');
    writeFileSync(token, 'x'.repeat(32), { mode: 0o600 });
    const config = path.join(dir, 'node.yaml');
    writeFileSync(config, `node:\n  name: t\ndatapath:\n  interfaces: [lan, wan]\n  managementSources: ["192.0.2.0/24"]\napi:\n  listen: 192.0.2.2:9470\n  allowPlainHttp: true\n  tokenFile: ${token}\n`);
    const plain = hafw('ruleset', 'check', guarded);
    assert.equal(plain.code, 0, plain.err);
    assert.match(plain.out, /guarded\.nft: warning: table inet f chain in handle \d+: ICMPv6 to the node is left to the kernel/);
    assert.doesNotMatch(plain.out, /management listener/);
    const withConfig = hafw('ruleset', 'check', guarded, '--config', config, '--json');
    assert.equal(withConfig.code, 0, withConfig.err);
    const w = (JSON.parse(withConfig.out) as { warnings: string[] }).warnings;
    assert.ok(w.some((x) => /^the management listener 192\.0\.2\.2:9470 would not be reachable from 192\.0\.2\.1: the input chain drops a new connection/.test(x)), w.join('\n'));
  });

  it('check reports errors as FILE:LINE:COL and exits 1, in text and JSON', () => {
    const r = hafw('ruleset', 'check', bad);
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:4:18: .*acept`, 'm'));
    const j = hafw('ruleset', 'check', bad, '--json');
    assert.equal(j.code, 1);
    const o = JSON.parse(j.out) as { ok: boolean; errors: { line: number; col: number; message: string }[] };
    assert.equal(o.ok, false);
    assert.deepEqual([o.errors[0]!.line, o.errors[0]!.col], [4, 18]);
  });

  it('check exits 1 naming a missing file, 2 without a file', () => {
    const r = hafw('ruleset', 'check', path.join(dir, 'nope.nft'));
    assert.equal(r.code, 1);
    assert.match(r.err, /nope\.nft: no such file/);
    assert.equal(hafw('ruleset', 'check').code, 2);
  });

  it('convert goes text -> JSON -> text and back to the same text', () => {
    const j = hafw('ruleset', 'convert', good, '--to', 'json');
    assert.equal(j.code, 0, j.err);
    const json = JSON.parse(j.out) as { nftables: unknown[] };
    assert.ok(Array.isArray(json.nftables));
    const jf = path.join(dir, 'good.json');
    writeFileSync(jf, j.out);
    const t = hafw('ruleset', 'convert', jf, '--to', 'nft');
    assert.equal(t.code, 0, t.err);
    assert.match(t.out, /ip saddr @blocked drop/);
    const tf = path.join(dir, 'again.nft');
    writeFileSync(tf, t.out);
    const again = hafw('ruleset', 'convert', tf, '--to', 'nft');
    assert.equal(again.out, t.out);
    assert.equal(hafw('ruleset', 'convert', tf, '--to', 'json').out, j.out);
  });

  it('convert needs --to json|nft (exit 2) and reports positioned errors (exit 1)', () => {
    assert.equal(hafw('ruleset', 'convert', good).code, 2);
    assert.equal(hafw('ruleset', 'convert', good, '--to', 'xml').code, 2);
    const r = hafw('ruleset', 'convert', bad, '--to', 'json');
    assert.equal(r.code, 1);
    assert.match(r.err, /bad\.nft:4:18:/);
  });

  it('schema lists modules, describes one by name, and exits 1 for an unknown name', () => {
    const all = hafw('schema');
    assert.equal(all.code, 0);
    assert.match(all.out, /^Matches:/m);
    assert.match(all.out, /^Statements:/m);
    const one = hafw('schema', 'tcp', 'dport');
    assert.equal(one.code, 0);
    assert.match(one.out, /tcp dport \(inet_service\)/);
    assert.match(one.out, /syntax: tcp dport/);
    const json = JSON.parse(hafw('schema', 'limit', '--json').out) as { kind: string; name: string; params?: unknown[] }[];
    assert.equal(json[0]!.kind, 'statement');
    assert.ok((json[0]!.params ?? []).length > 0);
    assert.equal(hafw('schema', 'nosuch').code, 1);
  });

  it('has --help on every command and subcommand', () => {
    for (const args of [['ruleset'], ['ruleset', 'check'], ['ruleset', 'convert'], ['ruleset', 'show'], ['ruleset', 'apply'], ['schema'], ['monitor']]) {
      const r = hafw(...args, '--help');
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.out, new RegExp(`^usage: hafw ${args.join(' ')}`), args.join(' '));
    }
    assert.equal(hafw('ruleset', 'frob').code, 2);
  });

  it('show, apply and monitor exit 1 with advice when no node runs here', () => {
    for (const args of [['ruleset', 'show'], ['ruleset', 'apply', 'add', 'table', 'ip', 'x'], ['monitor']]) {
      const r = hafw(...args);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.err, /no hafw node is running in this network namespace/, args.join(' '));
    }
  });

  it('hands other commands to the full CLI', () => {
    const r = hafw('--help');
    assert.equal(r.code, 0);
    for (const c of ['ruleset', 'schema', 'monitor', 'status']) assert.match(r.out, new RegExp(`^  ${c} `, 'm'));
  });
});
