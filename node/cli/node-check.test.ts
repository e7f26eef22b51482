import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkNodeConfig } from './node-check.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/hafw.js');

interface Problem { file: string; line?: number; col?: number; path?: string; message: string }
interface Report { ok: boolean; config: string; node?: string; ruleset?: { rules: number }; errors: Problem[]; warnings: Problem[] }

describe('hafw node --check', () => {
  let dir: string;
  let runDir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hafw-check-'));
    runDir = path.join(dir, 'run');
    mkdirSync(runDir);
    chmodSync(dir, 0o755);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function write(name: string, text: string, mode = 0o644): string {
    const f = path.join(dir, name);
    writeFileSync(f, text);
    chmodSync(f, mode);
    return f;
  }
  function check(file: string, json = false, uid?: number) {
    const r = spawnSync(process.execPath, [BIN, 'node', '--config', file, '--check', ...(json ? ['--json'] : [])], {
      encoding: 'utf8',
      env: { ...process.env, HAFW_RUN_DIR: runDir },
      ...(uid !== undefined ? { uid, gid: uid } : {}),
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  }

  const GOOD_RULESET = 'table inet filter {\n  chain forward {\n    type filter hook forward priority 0; policy drop;\n    ct state established,related accept\n    iifname "lan" accept\n  }\n}\n';

  it('reports three independent errors at once, each with file:line and the setting path; exit 1', () => {
    const cfg = write('bad.yaml', [
      'node:',
      '  name: fwa',
      'datapath:',
      '  batchSize: 0', // 4
      'log:',
      '  level: loud', // 6
      'vrrp:',
      '  interface: lan',
      '  vrid: 7',
      '  vips:',
      '    - { interface: lan, address: 192.0.2.1/24 }',
      '    - { interface: wan, address: not-an-address }', // 12
      '',
    ].join('\n'));
    const t = check(cfg);
    assert.equal(t.code, 1, t.err);
    const lines = t.err.trim().split('\n');
    assert.deepEqual(lines, [
      `${cfg}:4: datapath.batchSize: expected an integer from 1 to 1024, got 0`,
      `${cfg}:6: log.level: expected one of trace, debug, info, warn, error, got "loud"`,
      `${cfg}:12: vrrp.vips[1].address: expected an address with optional /prefix, got "not-an-address"`,
      `${cfg}: 3 errors; the node would not start`,
    ]);
    const j = check(cfg, true);
    assert.equal(j.code, 1);
    const r = JSON.parse(j.out) as Report;
    assert.equal(r.ok, false);
    assert.deepEqual(r.errors.map((e) => [e.file, e.line, e.path]), [[cfg, 4, 'datapath.batchSize'], [cfg, 6, 'log.level'], [cfg, 12, 'vrrp.vips[1].address']]);
  });

  it('exits 0 on a good config with its ruleset and token file, and touches nothing (no control socket)', () => {
    write('ruleset.nft', GOOD_RULESET);
    write('api.token', 'a'.repeat(32), 0o600);
    // A relative ruleset path is relative to the config file, as for the node.
    const cfg = write('good.yaml', 'node:\n  name: fwa\napi:\n  listen: 127.0.0.1:8470\n  tokenFile: ' + path.join(dir, 'api.token') + '\nruleset:\n  file: ruleset.nft\n');
    const t = check(cfg);
    assert.equal(t.code, 0, t.err);
    assert.equal(t.err, '');
    assert.match(t.out, new RegExp(`^${cfg.replace(/[.]/g, '\\.')}: ok: node fwa; ruleset ${dir}/ruleset\\.nft: 1 tables, 1 chains, 2 rules, 0 sets$`, 'm'));
    const j = JSON.parse(check(cfg, true).out) as Report;
    assert.equal(j.ok, true);
    assert.deepEqual(j.errors, []);
    assert.equal(j.ruleset?.rules, 2);
    assert.deepEqual(readdirSync(runDir), [], 'no socket, nothing written');
  });

  it("reports the ruleset's own errors as ruleset-file:line:col, beside the config's", () => {
    write('broken.nft', 'table inet filter {\n  chain forward {\n    type filter hook forward priority 0;\n    ip saddr 192.0.2.300 accept\n  }\n}\n');
    const cfg = write('c.yaml', 'node:\n  name: fwa\nconntrack:\n  maxEntries: 5\nruleset:\n  file: broken.nft\n');
    const t = check(cfg);
    assert.equal(t.code, 1);
    const lines = t.err.trim().split('\n');
    assert.match(lines[0]!, new RegExp(`^${cfg}:4: conntrack\\.maxEntries: expected an integer`));
    assert.match(lines[1]!, new RegExp(`^${dir}/broken\\.nft:4:\\d+: .*192\\.0\\.2\\.300`));
    const r = JSON.parse(check(cfg, true).out) as Report;
    const rs = r.errors.find((e) => e.file.endsWith('broken.nft'))!;
    assert.equal(rs.line, 4);
    assert.equal(typeof rs.col, 'number');
    assert.equal(rs.path, undefined);
  });

  it('names a missing ruleset or secret file at the line of its setting, and a YAML syntax error with its line', () => {
    const cfg = write('m.yaml', 'node:\n  name: fwa\nsync:\n  interface: sync\n  keyFile: /nonexistent/sync.key\nruleset:\n  file: /nonexistent/r.nft\n');
    const r = JSON.parse(check(cfg, true).out) as Report;
    assert.deepEqual(r.errors.map((e) => [e.line, e.path]), [[5, 'sync.keyFile'], [7, 'ruleset.file']]);
    const y = check(write('y.yaml', 'node:\n  name: fwa\ndatapath: [\n'));
    assert.equal(y.code, 1);
    assert.match(y.err, /y\.yaml:\d+: YAML syntax: /);
  });

  it('checks the listener\'s TLS files: a key that is not the certificate\'s, a key others may read (api.tls.keyFile)', () => {
    const openssl = (...args: string[]): void => void spawnSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    for (const n of ['a', 'b']) openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${n}.key`, '-out', `${n}.crt`, '-days', '2', '-subj', `/CN=${n}`);
    chmodSync(path.join(dir, 'a.key'), 0o600);
    chmodSync(path.join(dir, 'b.key'), 0o600);
    const token = write('api.token', 'a'.repeat(32), 0o600);
    const cfg = (key: string): string => write('tls.yaml', `node:\n  name: fwa\napi:\n  listen: 192.0.2.2:8470\n  tokenFile: ${token}\n  tls:\n    certFile: ${path.join(dir, 'a.crt')}\n    keyFile: ${path.join(dir, key)}\n`);
    const good = check(cfg('a.key'), true);
    assert.equal(good.code, 0, good.out + good.err);
    const r = JSON.parse(check(cfg('b.key'), true).out) as Report;
    assert.equal(r.ok, false);
    assert.deepEqual(r.errors.map((e) => [e.line, e.path]), [[8, 'api.tls.keyFile']]);
    assert.match(r.errors[0]!.message, /b\.key: not the private key of api\.tls\.certFile .*a\.crt/);
    chmodSync(path.join(dir, 'a.key'), 0o640);
    const open = JSON.parse(check(cfg('a.key'), true).out) as Report;
    assert.match(open.errors[0]!.message, /a\.key: mode 0640 gives its group access/);
  });

  it('warns (exit 0) about a listener certificate that expires within 14 days or has expired, not about one with months left', async () => {
    const openssl = (...args: string[]): void => void spawnSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    for (const [n, days] of [['soon', '2'], ['later', '90']] as const) {
      openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${n}.key`, '-out', `${n}.crt`, '-days', days, '-subj', `/CN=${n}`);
      chmodSync(path.join(dir, `${n}.key`), 0o600);
    }
    const token = write('api.token', 'a'.repeat(32), 0o600);
    const cfg = (n: string): string => write(`${n}.yaml`, `node:\n  name: fwa\napi:\n  listen: 192.0.2.2:8470\n  tokenFile: ${token}\n  tls:\n    certFile: ${path.join(dir, `${n}.crt`)}\n    keyFile: ${path.join(dir, `${n}.key`)}\n`);
    const soon = check(cfg('soon'), true);
    assert.equal(soon.code, 0, soon.err);
    const r = JSON.parse(soon.out) as Report;
    assert.equal(r.ok, true);
    assert.deepEqual(r.warnings.map((w) => [w.line, w.path]), [[7, 'api.tls.certFile']]);
    assert.match(r.warnings[0]!.message, /soon\.crt: the certificate expires in 1 days \(.* GMT\): renew it and send the node SIGHUP/);
    const text = check(cfg('soon'));
    assert.match(text.out, /soon\.yaml:7: api\.tls\.certFile: warning: .*expires in 1 days/);
    const later = JSON.parse(check(cfg('later'), true).out) as Report;
    assert.deepEqual(later.warnings, []);
    // Expired: the same certificate judged 100 days on (openssl 3.0 cannot date one in the past).
    const expired = await checkNodeConfig(cfg('later'), Date.now() + 100 * 86_400_000);
    assert.equal(expired.ok, true, 'a warning: the node would still start and serve it');
    assert.deepEqual(expired.warnings.map((w) => w.path), ['api.tls.certFile']);
    assert.match(expired.warnings[0]!.message, /later\.crt: the certificate expired on .* GMT; clients refuse it/);
  });

  it('checks api.tls.clientCaFile: missing and non-PEM files are errors at its line', async () => {
    const openssl = (...args: string[]): void => void spawnSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'a.key', '-out', 'a.crt', '-days', '90', '-subj', '/CN=a');
    chmodSync(path.join(dir, 'a.key'), 0o600);
    const token = write('api.token', 'a'.repeat(32), 0o600);
    const cfg = (ca: string): string => write('mtls.yaml', `node:\n  name: fwa\napi:\n  listen: 192.0.2.2:8470\n  tokenFile: ${token}\n  tls:\n    certFile: ${path.join(dir, 'a.crt')}\n    keyFile: ${path.join(dir, 'a.key')}\n    clientCaFile: ${ca}\n`);
    assert.equal(check(cfg(path.join(dir, 'a.crt'))).code, 0);
    const missing = JSON.parse(check(cfg(path.join(dir, 'nope.crt')), true).out) as Report;
    assert.deepEqual(missing.errors.map((e) => [e.line, e.path]), [[9, 'api.tls.clientCaFile']]);
    assert.match(missing.errors[0]!.message, /nope\.crt: no such file/);
    const garbage = JSON.parse(check(cfg(write('ca.txt', 'not a certificate\n')), true).out) as Report;
    assert.match(garbage.errors[0]!.message, /ca\.txt: not a PEM certificate/);
    const r = JSON.parse(check(write('bad.yaml', `node:\n  name: fwa\napi:\n  listen: 127.0.0.1:8470\n  tokenFile: ${token}\n  tls:\n    certFile: a.crt\n    keyFile: a.key\n    clientCA: x\n`), true).out) as Report;
    assert.ok(r.errors.some((e) => e.path === 'api.tls.clientCA' && e.line === 9), JSON.stringify(r.errors));
  });

  it('runs as an unprivileged user: a secret it may not read is a warning, not an error', function () {
    if (process.getuid?.() !== 0) this.skip(); // needs root to switch to another user
    write('ruleset.nft', GOOD_RULESET);
    const token = write('api.token', 'a'.repeat(32), 0o600); // root's
    const cfg = write('good.yaml', `node:\n  name: fwa\napi:\n  listen: 127.0.0.1:8470\n  tokenFile: ${token}\nruleset:\n  file: ruleset.nft\n`);
    const t = check(cfg, true, 65534);
    assert.equal(t.code, 0, t.err);
    const r = JSON.parse(t.out) as Report;
    assert.equal(r.ok, true);
    assert.deepEqual(r.warnings.map((w) => [w.line, w.path]), [[5, 'api.tokenFile']]);
    assert.match(r.warnings[0]!.message, /not readable by uid 65534; not checked/);
  });
});
