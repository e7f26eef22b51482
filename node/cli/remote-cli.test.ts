import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { Registry } from 'prom-client';
import { EventBus, createNodeMetrics, setListenerTls, startManagementServer, type NodeStatus } from '../api/index.js';
import { readTlsPair } from '../daemon/secrets.js';
import { reloadListenerTls } from '../daemon/api-tls.js';
import { parseConfigText } from '../daemon/config.js';
import { NodeDaemon } from '../daemon/daemon.js';

const ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'main.js');
const TOKEN = 'api-token-0123456789abcdef';
const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
const status: NodeStatus = { node: 'fw-remote', role: 'standalone', pid: 1, uptimeSeconds: 1, datapath: { tun: 'hafw0', offloads: true, vnetHdrLen: 10, counters: {}, native: {} } };

/**
 * The remote CLI against an in-process management listener serving TLS, all on loopback:
 * a throwaway CA and server certificates made with openssl at test time.
 */
describe('remote CLI: --url, --token-file, --ca-file against a TLS management listener', function () {
  this.timeout(60000);
  let dir: string;
  let launcher: string;
  const apps: FastifyInstance[] = [];
  let app: FastifyInstance;
  let port: number;
  let url: string;
  const f = (name: string): string => path.join(dir, name);
  const log = pino({ level: 'silent' });
  const bus = new EventBus();

  function openssl(...args: string[]): void {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  }

  /** A CA: NAME.key, NAME.crt. */
  function makeCa(name: string): void {
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  }

  /** A server certificate for `san`, signed by `ca`: NAME.key (0600), NAME.crt. */
  function makeServer(name: string, ca: string, san: string): void {
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    writeFileSync(f(`${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
    chmodSync(f(`${name}.key`), 0o600);
  }

  /** A client certificate (extendedKeyUsage clientAuth) signed by `ca`: NAME.key (0600), NAME.crt. */
  function makeClient(name: string, ca: string): void {
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    writeFileSync(f(`${name}.ext`), 'extendedKeyUsage=clientAuth\n');
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
    chmodSync(f(`${name}.key`), 0o600);
  }

  const fingerprint = (certFile: string): string => new X509Certificate(execFileSync('cat', [certFile])).fingerprint256;

  function hafw(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    return new Promise((resolve) => {
      // No HAFW_* from the developer's shell: the options alone name the node.
      const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HAFW_')));
      execFile(process.execPath, [launcher, ...args], { encoding: 'utf8', env: { ...env, HAFW_RUN_DIR: '/nonexistent-hafw-test' } }, (err, out, errOut) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out, err: errOut });
      });
    });
  }

  async function serve(certFile: string, keyFile: string, clientCaFile?: string): Promise<{ app: FastifyInstance; port: number }> {
    const pair = await readTlsPair({ certFile, keyFile, ...(clientCaFile ? { clientCaFile } : {}) }, 'refuse', log);
    const a = await startManagementServer({ status: () => status, metrics: new Registry(), events: bus }, '127.0.0.1', 0, { token: TOKEN, metricsToken: METRICS_TOKEN, tls: pair }, log);
    apps.push(a);
    return { app: a, port: (a.server.address() as net.AddressInfo).port };
  }

  /** The SHA-256 fingerprint of the certificate a fresh TLS connection is served. */
  function servedFingerprint(): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca: execFileSync('cat', [f('ca.crt')]) }, () => {
        const fp = s.getPeerX509Certificate()?.fingerprint256 ?? '';
        s.end();
        resolve(fp);
      });
      s.on('error', reject);
    });
  }

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'hafw-remote-cli-'));
    launcher = path.join(dir, 'hafw.mjs');
    writeFileSync(launcher, `import(${JSON.stringify(ENTRY)}).then((m) => m.main(process.argv.slice(2))).then((c) => { process.exitCode = c; });\n`);
    makeCa('ca');
    makeCa('other-ca');
    makeServer('one', 'ca', 'IP:127.0.0.1,DNS:localhost');
    makeServer('two', 'ca', 'IP:127.0.0.1,DNS:localhost');
    makeServer('wrongname', 'ca', 'DNS:fw1.example.net');
    makeCa('client-ca');
    makeClient('alice', 'client-ca');
    makeClient('mallory', 'other-ca');
    // The files the listener is configured with; the tests replace their contents.
    copyFileSync(f('one.crt'), f('listener.crt'));
    copyFileSync(f('one.key'), f('listener.key'));
    chmodSync(f('listener.key'), 0o600);
    writeFileSync(f('api.token'), `${TOKEN}\n`, { mode: 0o600 });
    writeFileSync(f('metrics.token'), `${METRICS_TOKEN}\n`, { mode: 0o600 });
    writeFileSync(f('wrong.token'), 'not-the-token-0123456789\n', { mode: 0o600 });
    ({ app, port } = await serve(f('listener.crt'), f('listener.key')));
    url = `https://127.0.0.1:${port}`;
  });

  after(async () => {
    for (const a of apps) await a.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('status over https with --ca-file: the node answers', async () => {
    const r = await hafw('status', '--json', '--url', url, '--token-file', f('api.token'), '--ca-file', f('ca.crt'));
    assert.equal(r.code, 0, r.err);
    assert.equal((JSON.parse(r.out) as NodeStatus).node, 'fw-remote');
  });

  it('without --ca-file the certificate is not trusted, and the error names the option (JSON with --json)', async () => {
    const r = await hafw('status', '--url', url, '--token-file', f('api.token'));
    assert.equal(r.code, 1);
    assert.match(r.err, /^hafw status: https:\/\/127\.0\.0\.1:\d+: the node's certificate is not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\): pass the CA certificate that signed it with --ca-file FILE/);
    assert.equal(r.err.trim().split('\n').length, 1, 'one line');
    const j = await hafw('status', '--json', '--url', url, '--token-file', f('api.token'));
    assert.equal(j.code, 1);
    const o = JSON.parse(j.out) as { ok: boolean; error: string };
    assert.equal(o.ok, false);
    assert.match(o.error, /not trusted.*--ca-file/);
  });

  it('a CA that did not sign the certificate is named in the error', async () => {
    const r = await hafw('metrics', '--url', url, '--token-file', f('metrics.token'), '--ca-file', f('other-ca.crt'));
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`not trusted: it is not signed by the CA in ${f('other-ca.crt').replace(/[.]/g, '\\.')}`));
  });

  it('a wrong token is refused with 401 wording naming the token file', async () => {
    const r = await hafw('status', '--url', url, '--token-file', f('wrong.token'), '--ca-file', f('ca.crt'));
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`token refused \\(401 unauthorized\\): the token in ${f('wrong.token').replace(/[.]/g, '\\.')} is not this node's API token`));
  });

  it('the read-only metrics token reads /metrics and is refused (403) anything else', async () => {
    const m = await hafw('metrics', '--url', url, '--token-file', f('metrics.token'), '--ca-file', f('ca.crt'));
    assert.equal(m.code, 0, m.err);
    const s = await hafw('ct', 'flush', '--url', url, '--token-file', f('metrics.token'), '--ca-file', f('ca.crt'));
    assert.equal(s.code, 1);
    assert.match(s.err, /token refused for POST \/v1\/ct\/flush \(403 forbidden\): the metrics token/);
  });

  it('monitor streams the node\'s events over the TLS listener', async () => {
    const run = hafw('monitor', '--json', '--count', '1', '--types', 'vrrp', '--url', url, '--token-file', f('api.token'), '--ca-file', f('ca.crt'));
    // Published until the CLI has one and exits (it may connect after the first ones).
    const timer = setInterval(() => bus.publish('vrrp', { event: 'state', from: 'backup', to: 'master' }), 50);
    const r = await run.finally(() => clearInterval(timer));
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out.trim()), { type: 'vrrp', data: { event: 'state', from: 'backup', to: 'master' } });
  });

  it('a certificate that does not name the host: hostname mismatch', async () => {
    const other = await serve(f('wrongname.crt'), f('wrongname.key'));
    const r = await hafw('status', '--url', `https://127.0.0.1:${other.port}`, '--token-file', f('api.token'), '--ca-file', f('ca.crt'));
    assert.equal(r.code, 1);
    assert.match(r.err, /the node's certificate does not name host '127\.0\.0\.1' \(.*IP: 127\.0\.0\.1 is not in the cert's list/);
  });

  it('nothing listening: connection refused, one line', async () => {
    const s = net.createServer();
    await new Promise<void>((res) => s.listen(0, '127.0.0.1', () => res()));
    const closed = (s.address() as net.AddressInfo).port;
    await new Promise<void>((res) => s.close(() => res()));
    const r = await hafw('sync', 'stats', '--url', `https://127.0.0.1:${closed}`, '--token-file', f('api.token'), '--ca-file', f('ca.crt'));
    assert.equal(r.code, 1);
    assert.match(r.err, /^hafw sync: https:\/\/127\.0\.0\.1:\d+: connection refused/);
  });

  it('http:// to the TLS listener says to use https://', async () => {
    const r = await hafw('status', '--url', `http://127.0.0.1:${port}`, '--token-file', f('api.token'));
    assert.equal(r.code, 1);
    assert.match(r.err, /if the node serves TLS \(api\.tls\), use https:\/\//);
  });

  it('the environment gives the same three (HAFW_URL, HAFW_TOKEN_FILE, HAFW_CA_FILE); usage errors for options without --url', async () => {
    const r = await new Promise<{ code: number; out: string; err: string }>((resolve) => {
      execFile(process.execPath, [launcher, 'status', '--json'], { encoding: 'utf8', env: { ...process.env, HAFW_URL: url, HAFW_TOKEN_FILE: f('api.token'), HAFW_CA_FILE: f('ca.crt') } }, (err, out, errOut) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out, err: errOut }));
    });
    assert.equal(r.code, 0, r.err);
    assert.equal((JSON.parse(r.out) as NodeStatus).node, 'fw-remote');
    const lone = await hafw('status', '--ca-file', f('ca.crt'));
    assert.equal(lone.code, 2);
    assert.match(lone.err, /--token-file, --ca-file, --cert-file and --key-file go with --url/);
    const noToken = await hafw('status', '--url', url);
    assert.equal(noToken.code, 2);
    assert.match(noToken.err, /--url needs --token-file FILE/);
    const missing = await hafw('status', '--url', url, '--token-file', f('nope.token'));
    assert.equal(missing.code, 1);
    assert.match(missing.err, /--token-file .*nope\.token: no such file/);
  });

  describe('mutual TLS (api.tls.clientCaFile; --cert-file, --key-file)', () => {
    let mtlsUrl: string;
    let mtls: FastifyInstance;
    before(async () => {
      copyFileSync(f('client-ca.crt'), f('listener-client-ca.crt'));
      const m = await serve(f('one.crt'), f('one.key'), f('listener-client-ca.crt'));
      mtls = m.app;
      mtlsUrl = `https://127.0.0.1:${m.port}`;
    });
    const as = (who?: string, ...more: string[]) => hafw('status', '--json', '--url', mtlsUrl, '--token-file', f('api.token'), '--ca-file', f('ca.crt'), ...(who ? ['--cert-file', f(`${who}.crt`), '--key-file', f(`${who}.key`)] : []), ...more);

    it('a client certificate signed by the client CA gets in; none, or one of another CA, is refused with a line that says what to do', async () => {
      const ok = await as('alice');
      assert.equal(ok.code, 0, ok.err);
      assert.equal((JSON.parse(ok.out) as NodeStatus).node, 'fw-remote');
      const none = await hafw('status', '--url', mtlsUrl, '--token-file', f('api.token'), '--ca-file', f('ca.crt'));
      assert.equal(none.code, 1);
      assert.match(none.err, /^hafw status: https:\/\/127\.0\.0\.1:\d+: the node asks for a client certificate \(api\.tls\.clientCaFile\): pass one with --cert-file FILE --key-file FILE/);
      assert.equal(none.err.trim().split('\n').length, 1, 'one line');
      const other = await hafw('status', '--url', mtlsUrl, '--token-file', f('api.token'), '--ca-file', f('ca.crt'), '--cert-file', f('mallory.crt'), '--key-file', f('mallory.key'));
      assert.equal(other.code, 1);
      assert.match(other.err, new RegExp(`the node .*refused the client certificate in ${f('mallory.crt').replace(/[.]/g, '\\.')} \\(it must be signed by the CA in the node's api\\.tls\\.clientCaFile`));
      assert.equal(other.err.trim().split('\n').length, 1, 'one line');
      // The certificate is a layer in front of the token, not instead of it.
      const noToken = await hafw('status', '--url', mtlsUrl, '--token-file', f('wrong.token'), '--ca-file', f('ca.crt'), '--cert-file', f('alice.crt'), '--key-file', f('alice.key'));
      assert.match(noToken.err, /token refused \(401 unauthorized\)/);
      // A listener without a client CA ignores a client certificate given anyway.
      assert.equal((await hafw('status', '--url', url, '--token-file', f('api.token'), '--ca-file', f('ca.crt'), '--cert-file', f('alice.crt'), '--key-file', f('alice.key'))).code, 0);
    });

    it('HAFW_CERT_FILE and HAFW_KEY_FILE stand for the options; usage errors for half a pair, a key that is not the certificate\'s', async () => {
      const r = await new Promise<{ code: number; err: string }>((resolve) => {
        execFile(process.execPath, [launcher, 'status'], { encoding: 'utf8', env: { ...process.env, HAFW_URL: mtlsUrl, HAFW_TOKEN_FILE: f('api.token'), HAFW_CA_FILE: f('ca.crt'), HAFW_CERT_FILE: f('alice.crt'), HAFW_KEY_FILE: f('alice.key') } }, (err, _out, errOut) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, err: errOut }));
      });
      assert.equal(r.code, 0, r.err);
      const half = await hafw('status', '--url', mtlsUrl, '--token-file', f('api.token'), '--cert-file', f('alice.crt'));
      assert.equal(half.code, 2);
      assert.match(half.err, /--cert-file and --key-file go together/);
      const mismatch = await as(undefined, '--cert-file', f('alice.crt'), '--key-file', f('mallory.key'));
      assert.equal(mismatch.code, 1);
      assert.match(mismatch.err, /--key-file .*mallory\.key: not the private key of --cert-file .*alice\.crt/);
      const plain = await hafw('status', '--url', 'http://127.0.0.1:1', '--token-file', f('api.token'), '--cert-file', f('alice.crt'), '--key-file', f('alice.key'));
      assert.equal(plain.code, 2);
      assert.match(plain.err, /--cert-file and --key-file go with an https:\/\/ URL/);
    });

    it('SIGHUP re-reads the client CA with the certificate: the next handshake is judged by the new CA, a broken CA file keeps the old', async () => {
      const files = { certFile: f('one.crt'), keyFile: f('one.key'), clientCaFile: f('listener-client-ca.crt') };
      const lines: { event?: string; err?: string }[] = [];
      const rlog = { info: (o: object) => void lines.push(o), warn: (o: object) => void lines.push(o), error: (o: object) => void lines.push(o) };
      copyFileSync(f('other-ca.crt'), f('listener-client-ca.crt'));
      assert.ok(await reloadListenerTls(mtls, files, 'refuse', rlog));
      assert.equal((await as('mallory')).code, 0, 'the new CA\'s client gets in');
      assert.equal((await as('alice')).code, 1, 'the old CA\'s client is refused');
      writeFileSync(f('listener-client-ca.crt'), 'not a certificate\n');
      assert.equal(await reloadListenerTls(mtls, files, 'refuse', rlog), undefined);
      assert.match(lines.at(-1)?.err ?? '', /api\.tls\.clientCaFile .*listener-client-ca\.crt: not a PEM certificate/);
      assert.equal((await as('mallory')).code, 0, 'still the last good CA');
      // Mutual TLS cannot be switched off by a reload (the server asks for certificates or not).
      await assert.rejects(async () => setListenerTls(mtls, await readTlsPair({ certFile: f('one.crt'), keyFile: f('one.key') }, 'refuse', log)), /started with a client CA; a restart is needed/);
    });
  });

  it('the certificate expiry metric: notAfter as a Unix time, set at start, moved by a SIGHUP reload', async () => {
    const notAfter = (certFile: string): number => Math.floor(Date.parse(new X509Certificate(execFileSync('cat', [certFile])).validTo) / 1000);
    makeServer('longer', 'ca', 'IP:127.0.0.1');
    openssl('x509', '-req', '-in', 'longer.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'longer.crt', '-days', '30', '-extfile', 'longer.ext');
    copyFileSync(f('one.crt'), f('listener.crt'));
    copyFileSync(f('one.key'), f('listener.key'));
    const config = parseConfigText(`node:\n  name: fwa\napi:\n  socket: ${f('ctl.sock')}\n  listen: 127.0.0.1:${port}\n  tokenFile: ${f('api.token')}\n  tls:\n    certFile: ${f('listener.crt')}\n    keyFile: ${f('listener.key')}\n`, 'node.yaml');
    const daemon = new NodeDaemon(config, log);
    const d = daemon as unknown as { mgmt: FastifyInstance; tlsNotAfter?: number };
    d.mgmt = app;
    d.tlsNotAfter = notAfter(f('one.crt')); // what startApi sets from the pair it serves
    const registry = createNodeMetrics({ nodeName: 'fwa', datapathCounters: () => ({}), apiTlsCertExpiry: () => d.tlsNotAfter });
    const value = async (): Promise<number | undefined> => (await registry.getSingleMetric('hafw_api_tls_cert_expiry_timestamp_seconds')!.get()).values[0]?.value;
    assert.equal(await value(), notAfter(f('one.crt')));
    copyFileSync(f('longer.crt'), f('listener.crt'));
    copyFileSync(f('longer.key'), f('listener.key'));
    await daemon.reload();
    assert.equal(await servedFingerprint(), fingerprint(f('longer.crt')));
    assert.equal(await value(), notAfter(f('longer.crt')));
    assert.ok(notAfter(f('longer.crt')) - notAfter(f('one.crt')) > 20 * 86400, 'the 30-day certificate, not the 2-day one');
    assert.match(await registry.metrics(), /^hafw_api_tls_cert_expiry_timestamp_seconds\{node="fwa"\} \d{10}$/m);
    // The log says so too when a certificate is near its end: the 2-day one, not the 30-day one.
    const warned: { event?: string; daysLeft?: number }[] = [];
    const wlog = { info: () => undefined, warn: (o: object) => void warned.push(o), error: () => undefined };
    await reloadListenerTls(app, { certFile: f('longer.crt'), keyFile: f('longer.key') }, 'refuse', wlog);
    assert.equal(warned.length, 0, JSON.stringify(warned));
    await reloadListenerTls(app, { certFile: f('one.crt'), keyFile: f('one.key') }, 'refuse', wlog);
    assert.deepEqual(warned.map((w) => [w.event, w.daysLeft]), [['api.tlsCertExpiring', 1]]);
    copyFileSync(f('one.crt'), f('listener.crt')); // as the tests after this one expect
    copyFileSync(f('one.key'), f('listener.key'));
    await daemon.reload();
    // No TLS listener: no such series.
    assert.doesNotMatch(await createNodeMetrics({ nodeName: 'fwb', datapathCounters: () => ({}) }).metrics(), /tls_cert_expiry/);
  });

  it('SIGHUP reload: the next connection gets the new certificate, an open one keeps working; a broken one keeps the old', async () => {
    assert.equal(await servedFingerprint(), fingerprint(f('one.crt')));
    // A connection opened before the reload.
    const early = tls.connect({ host: '127.0.0.1', port, ca: execFileSync('cat', [f('ca.crt')]) });
    await new Promise<void>((res, rej) => early.once('secureConnect', () => res()).once('error', rej));
    try {
      await reloadAndCheck(early);
    } finally {
      early.destroy();
    }
  });

  it('the node\'s SIGHUP reload (NodeDaemon.reload) re-reads api.tls into its running listener', async () => {
    const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
    copyFileSync(f('two.crt'), f('listener.crt'));
    copyFileSync(f('two.key'), f('listener.key'));
    await reloadListenerTls(app, { certFile: f('listener.crt'), keyFile: f('listener.key') }, 'refuse', quiet);
    assert.equal(await servedFingerprint(), fingerprint(f('two.crt')), 'before: the second certificate');
    copyFileSync(f('one.crt'), f('listener.crt'));
    copyFileSync(f('one.key'), f('listener.key'));
    const config = parseConfigText(`node:\n  name: fwa\napi:\n  socket: ${f('ctl.sock')}\n  listen: 127.0.0.1:${port}\n  tokenFile: ${f('api.token')}\n  tls:\n    certFile: ${f('listener.crt')}\n    keyFile: ${f('listener.key')}\n`, 'node.yaml');
    const daemon = new NodeDaemon(config, log);
    // The listener the daemon would have started (startApi needs a datapath): this test's.
    (daemon as unknown as { mgmt: FastifyInstance }).mgmt = app;
    await daemon.reload();
    assert.equal(await servedFingerprint(), fingerprint(f('one.crt')));
  });

  async function reloadAndCheck(early: tls.TLSSocket): Promise<void> {
    copyFileSync(f('two.crt'), f('listener.crt'));
    copyFileSync(f('two.key'), f('listener.key'));
    const lines: { event?: string; err?: string }[] = [];
    const rlog = { info: (o: object) => void lines.push(o), warn: (o: object) => void lines.push(o), error: (o: object) => void lines.push(o) };
    const pair = await reloadListenerTls(app, { certFile: f('listener.crt'), keyFile: f('listener.key') }, 'refuse', rlog);
    assert.equal(pair?.fingerprint, fingerprint(f('two.crt')));
    assert.equal(lines.at(-1)?.event, 'api.tlsReloaded');
    assert.equal(await servedFingerprint(), fingerprint(f('two.crt')), 'a new connection is served the new certificate');
    // The listener never closed: the early connection still gets answers.
    early.write('GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const answer = await new Promise<string>((res) => {
      let buf = '';
      early.on('data', (c: Buffer) => (buf += c.toString()));
      early.on('end', () => res(buf));
    });
    assert.match(answer, /^HTTP\/1\.1 200/);
    assert.equal((await hafw('status', '--url', url, '--token-file', f('api.token'), '--ca-file', f('ca.crt'))).code, 0);

    // Broken: a certificate with another certificate's key; then garbage; then a key anyone may read.
    copyFileSync(f('one.key'), f('listener.key'));
    assert.equal(await reloadListenerTls(app, { certFile: f('listener.crt'), keyFile: f('listener.key') }, 'refuse', rlog), undefined);
    assert.equal(lines.at(-1)?.event, 'api.tlsReloadRejected');
    assert.match(lines.at(-1)?.err ?? '', /api\.tls\.keyFile .*listener\.key: not the private key of api\.tls\.certFile/);
    writeFileSync(f('listener.crt'), 'not a certificate\n');
    assert.equal(await reloadListenerTls(app, { certFile: f('listener.crt'), keyFile: f('listener.key') }, 'refuse', rlog), undefined);
    assert.match(lines.at(-1)?.err ?? '', /api\.tls\.certFile .*listener\.crt: not a PEM certificate/);
    copyFileSync(f('two.crt'), f('listener.crt'));
    copyFileSync(f('two.key'), f('listener.key'));
    chmodSync(f('listener.key'), 0o644);
    assert.equal(await reloadListenerTls(app, { certFile: f('listener.crt'), keyFile: f('listener.key') }, 'refuse', rlog), undefined);
    assert.match(lines.at(-1)?.err ?? '', /api\.tls\.keyFile .*listener\.key: mode 0644 gives its group and other users access/);
    chmodSync(f('listener.key'), 0o600);
    assert.equal(await servedFingerprint(), fingerprint(f('two.crt')), 'still the last good certificate');
    assert.equal((await hafw('status', '--url', url, '--token-file', f('api.token'), '--ca-file', f('ca.crt'))).code, 0);
  }
});
