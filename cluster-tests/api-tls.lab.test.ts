/**
 * @lab The management listener with mutual TLS on a running node (api.tls with
 * clientCaFile): the CLI gets in with a client certificate of that CA and is turned away
 * without one; the node exports its certificate's expiry, and SIGHUP moves it to a renewed
 * certificate. Certificates are made with openssl at test time; the listener is on the
 * namespace's loopback.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Lab, LAB_DIR, HAFW_BIN, sh, sleep } from './lab.js';

const TOKEN = 'hafw-tls-token-0123456789abcdef';

describe('@lab management listener with mutual TLS (api.tls.clientCaFile)', function () {
  this.timeout(120_000);
  const dir = path.join(LAB_DIR, 'tls');
  const f = (n: string): string => path.join(dir, n);
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const notAfter = (file: string): number => Math.floor(Date.parse(new X509Certificate(readFileSync(file)).validTo) / 1000);
  let lab: Lab;

  function signed(name: string, ca: string, days: string, ext: string): void {
    openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    writeFileSync(f(`${name}.ext`), ext);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', days, '-extfile', `${name}.ext`);
    chmodSync(f(`${name}.key`), 0o600);
  }

  before(async function () {
    this.timeout(5 * 60_000);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const ca of ['server-ca', 'client-ca']) openssl('req', '-x509', ...ec, '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-days', '2', '-subj', `/CN=${ca}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
    signed('short', 'server-ca', '2', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    signed('renewed', 'server-ca', '60', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    signed('alice', 'client-ca', '2', 'extendedKeyUsage=clientAuth\n');
    copyFileSync(f('short.crt'), f('listener.crt'));
    copyFileSync(f('short.key'), f('listener.key'));
    chmodSync(f('listener.key'), 0o600);
    writeFileSync(f('api.token'), `${TOKEN}\n`, { mode: 0o600 });
    const api = `api:\n  listen: 127.0.0.1:8470\n  tokenFile: ${f('api.token')}\n  tls:\n    certFile: ${f('listener.crt')}\n    keyFile: ${f('listener.key')}\n    clientCaFile: ${f('client-ca.crt')}\n`;
    lab = await Lab.up({ nodes: 1, extraConfig: () => api });
  });
  after(async () => {
    await Lab.down();
    rmSync(dir, { recursive: true, force: true });
  });

  const remote = (...extra: string[]): Promise<string> =>
    sh([process.execPath, HAFW_BIN, 'status', '--json', '--url', 'https://127.0.0.1:8470', '--token-file', f('api.token'), '--ca-file', f('server-ca.crt'), ...extra], { ns: lab.node('fwa').ns, timeoutMs: 15000 });
  const expiry = async (): Promise<number | undefined> => {
    const text = await sh([process.execPath, HAFW_BIN, 'metrics'], { ns: lab.node('fwa').ns });
    const m = /^hafw_api_tls_cert_expiry_timestamp_seconds\{[^}]*\} (\d+)$/m.exec(text);
    return m ? Number(m[1]) : undefined;
  };

  it('lets a client certificate of the client CA in, turns away a client without one', async () => {
    const ok = JSON.parse(await remote('--cert-file', f('alice.crt'), '--key-file', f('alice.key'))) as { node: string };
    assert.equal(ok.node, 'fwa');
    await assert.rejects(remote(), /the node asks for a client certificate \(api\.tls\.clientCaFile\)/);
  });

  it('exports the certificate\'s notAfter, warns that it is close, and follows a renewal on SIGHUP', async () => {
    assert.equal(await expiry(), notAfter(f('short.crt')));
    assert.match(readFileSync(lab.node('fwa').logFile, 'utf8'), /"event":"api\.tlsCertExpiring"/);
    copyFileSync(f('renewed.crt'), f('listener.crt'));
    copyFileSync(f('renewed.key'), f('listener.key'));
    process.kill(lab.node('fwa').pid, 'SIGHUP');
    let seen: number | undefined;
    for (let i = 0; i < 100 && seen !== notAfter(f('renewed.crt')); i++) {
      await sleep(100);
      seen = await expiry();
    }
    assert.equal(seen, notAfter(f('renewed.crt')));
    // The renewed certificate is the one served, and the client certificate still opens it.
    assert.equal((JSON.parse(await remote('--cert-file', f('alice.crt'), '--key-file', f('alice.key'))) as { node: string }).node, 'fwa');
  });
});
