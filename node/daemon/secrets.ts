/**
 * The secrets a node reads at start: the cluster sync key (sync.keyFile, or sync.key inline,
 * which makes the config file itself a secret) and the management API's bearer token
 * (api.tokenFile). Whoever reads the key can forge state and rulesets to the whole cluster;
 * whoever reads the token drives the API. So, as ssh does with a private key, a secret file
 * that its group or others may read or write is refused (`security.secretFileMode: warn`
 * starts anyway, with a warning), and so is one owned by another user than the node's or
 * root, who could replace it. The mode is checked on the descriptor that is then read
 * (fstat), so the file checked is the file used.
 *
 * Errors end up in the journal: they give a key's length, never its bytes.
 */
import { constants } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { NodeConfig, SecretFileMode, SyncSettings } from './config.js';

export interface SecretLog {
  warn(obj: object, msg: string): void;
}

/** A secret that cannot be used: the node does not start. */
export class SecretError extends Error {}

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

/** Refuses (or warns about) a secret file group or others may access, or another user owns. */
function checkAccess(file: string, setting: string, st: { mode: number; uid: number }, policy: SecretFileMode, log: SecretLog): void {
  const problems: string[] = [];
  const who = [st.mode & 0o070 ? 'its group' : '', st.mode & 0o007 ? 'other users' : ''].filter(Boolean);
  if (who.length > 0) problems.push(`mode ${octal(st.mode)} gives ${who.join(' and ')} access (chmod 600 ${file})`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid && st.uid !== 0) problems.push(`it is owned by uid ${st.uid}, not by the node's user (${uid}) or root`);
  if (problems.length === 0) return;
  const what = `${setting} ${file}: ${problems.join('; ')}`;
  if (policy === 'refuse') throw new SecretError(`${what}. A secret file must be readable by the node's user only (or set security.secretFileMode: warn)`);
  log.warn({ event: 'security.secretFileMode', setting, file, mode: octal(st.mode), uid: st.uid }, `${what}; starting anyway because security.secretFileMode is warn`);
}

/** Reads a secret file after checking who may access it. */
async function readSecretFile(file: string, setting: string, policy: SecretFileMode, log: SecretLog): Promise<Buffer> {
  let fh;
  try {
    // O_NONBLOCK: a FIFO put in the key's place must not hang the start.
    fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new SecretError(`${setting} ${file}: ${(err as Error).message}`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new SecretError(`${setting} ${file}: not a regular file`);
    checkAccess(file, setting, st, policy, log);
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

const HEX = /^[0-9a-fA-F]+$/;

/**
 * The sync key: from keyFile (hex, or at least 32 raw bytes), or inline (then the config
 * file holds it and is checked like a key file).
 */
export async function readSyncKey(s: SyncSettings, policy: SecretFileMode, log: SecretLog, configFile?: string): Promise<Uint8Array> {
  if (s.key !== undefined) {
    if (configFile !== undefined) {
      const st = await stat(configFile).catch((e: Error) => {
        throw new SecretError(`${configFile}: ${e.message}`);
      });
      checkAccess(configFile, 'config file (it holds sync.key)', st, policy, log);
    }
    return hexKey(s.key, 'sync.key');
  }
  const raw = await readSecretFile(s.keyFile!, 'sync.keyFile', policy, log);
  const text = raw.toString('latin1').trim();
  // Hex digits only: meant as hex, so it must be valid hex (a raw key of 32+ random bytes
  // is never all hex digits).
  if (HEX.test(text)) return hexKey(text, `sync.keyFile ${s.keyFile}`);
  if (raw.length < 32) throw new SecretError(`sync.keyFile ${s.keyFile}: needs at least 32 bytes (64+ hex digits, or raw bytes), has ${raw.length} bytes`);
  return new Uint8Array(raw);
}

function hexKey(hex: string, where: string): Uint8Array {
  if (!HEX.test(hex) || hex.length % 2 !== 0 || hex.length < 64) {
    throw new SecretError(`${where}: needs at least 32 bytes in hex (an even number of 64+ hex digits), has ${hex.length} characters`);
  }
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** The management listener's bearer token (16+ characters). */
export async function readApiToken(file: string, policy: SecretFileMode, log: SecretLog, setting = 'api.tokenFile'): Promise<string> {
  const token = (await readSecretFile(file, setting, policy, log)).toString('utf8').trim();
  if (token.length < 16) throw new SecretError(`${setting} ${file}: the token must have at least 16 characters, has ${token.length}`);
  return token;
}

/** The management listener's certificate (chain) and private key, checked to belong together. */
export interface TlsPair {
  cert: Buffer;
  key: Buffer;
  /** SHA-256 fingerprint of the (first) certificate, as `openssl x509 -fingerprint -sha256` prints it. */
  fingerprint: string;
  /** When the certificate expires (its notAfter). */
  validTo: string;
  /** The same instant as a Unix time in seconds (the expiry metric, `--check`'s warning). */
  notAfter: number;
  /** api.tls.clientCaFile: the CA certificate(s) client certificates must chain to (mutual TLS). */
  clientCa?: Buffer;
}

/**
 * api.tls: the key is a secret file (checked like the token); the certificate is public.
 * Both are parsed and paired here, so a wrong file is refused with its name at start and
 * on SIGHUP, not found by the first client's failed handshake.
 */
export async function readTlsPair(tls: { certFile: string; keyFile: string; clientCaFile?: string }, policy: SecretFileMode, log: SecretLog): Promise<TlsPair> {
  const key = await readSecretFile(tls.keyFile, 'api.tls.keyFile', policy, log);
  let cert: Buffer;
  try {
    cert = await readFile(tls.certFile);
  } catch (err) {
    throw new SecretError(`api.tls.certFile ${tls.certFile}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new SecretError(`api.tls.certFile ${tls.certFile}: not a PEM certificate (${(err as Error).message})`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    // OpenSSL's words ("key values mismatch", "bad decrypt", "no start line") name the cause.
    throw new SecretError(`api.tls.keyFile ${tls.keyFile}: not the private key of api.tls.certFile ${tls.certFile}, or not a usable PEM key (${(err as Error).message})`);
  }
  const pair: TlsPair = { cert, key, fingerprint: x509.fingerprint256, validTo: x509.validTo, notAfter: Math.floor(Date.parse(x509.validTo) / 1000) };
  if (tls.clientCaFile !== undefined) pair.clientCa = await readClientCa(tls.clientCaFile);
  return pair;
}

/**
 * api.tls.clientCaFile: public, like the certificate, so no mode check; but parsed here, so
 * a wrong file is refused with its name at start and on SIGHUP rather than turning every
 * client away with "unknown ca".
 */
export async function readClientCa(file: string): Promise<Buffer> {
  let ca: Buffer;
  try {
    ca = await readFile(file);
  } catch (err) {
    throw new SecretError(`api.tls.clientCaFile ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  const pems = ca.toString('latin1').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
  if (pems.length === 0) throw new SecretError(`api.tls.clientCaFile ${file}: not a PEM certificate (no BEGIN CERTIFICATE block)`);
  pems.forEach((pem, i) => {
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw new SecretError(`api.tls.clientCaFile ${file}: certificate ${i + 1} is not a valid certificate (${(err as Error).message})`);
    }
  });
  return ca;
}

/** Days until a certificate's notAfter (negative: expired), for the warnings of `--check` and of a start or reload. */
export function daysLeft(notAfter: number, now = Date.now()): number {
  return (notAfter * 1000 - now) / 86_400_000;
}

/** Below this many days `hafw node --check` and the node warn about the listener's certificate. */
export const CERT_EXPIRY_WARN_DAYS = 14;

export interface NodeSecrets {
  syncKey?: Uint8Array;
  apiToken?: string;
  /** api.metricsTokenFile: the read-only credential for GET /metrics. */
  metricsToken?: string;
  /** api.viewTokenFile: the credential that may read everything and change nothing. */
  viewToken?: string;
  /** api.tls: the management listener's certificate and key. */
  tls?: TlsPair;
}

/** Every secret the config names, read (and checked) before the node touches anything. */
export async function readNodeSecrets(config: NodeConfig, log: SecretLog, configFile?: string): Promise<NodeSecrets> {
  const policy = config.security.secretFileMode;
  const out: NodeSecrets = {};
  if (config.sync) out.syncKey = await readSyncKey(config.sync, policy, log, configFile);
  if (config.api.listen && config.api.tokenFile) out.apiToken = await readApiToken(config.api.tokenFile, policy, log);
  if (config.api.listen && config.api.metricsTokenFile) out.metricsToken = await readApiToken(config.api.metricsTokenFile, policy, log, 'api.metricsTokenFile');
  if (config.api.listen && config.api.viewTokenFile) out.viewToken = await readApiToken(config.api.viewTokenFile, policy, log, 'api.viewTokenFile');
  if (config.api.listen && config.api.tls) out.tls = await readTlsPair(config.api.tls, policy, log);
  return out;
}
