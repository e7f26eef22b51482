/**
 * SIGHUP for the management listener's TLS: the certificate, key and client CA files are read and
 * checked again (key file mode, PEM, the pair belonging together) and only then handed
 * to the running listener. A renewed certificate (certbot, an internal CA) takes effect
 * for the next connection without a restart; a broken one is refused with the reason and
 * the listener keeps serving the certificate it had.
 */
import type { FastifyInstance } from 'fastify';
import { setListenerTls } from '../api/server.js';
import type { SecretFileMode } from './config.js';
import { CERT_EXPIRY_WARN_DAYS, daysLeft, readTlsPair, type TlsPair } from './secrets.js';

export interface TlsReloadLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Re-reads api.tls into `app`; returns the new pair, or undefined when it kept the old one. */
export async function reloadListenerTls(app: FastifyInstance, files: { certFile: string; keyFile: string; clientCaFile?: string }, policy: SecretFileMode, log: TlsReloadLog): Promise<TlsPair | undefined> {
  try {
    const pair = await readTlsPair(files, policy, log);
    setListenerTls(app, pair);
    warnCertExpiry(pair, log);
    log.info({ event: 'api.tlsReloaded', certFile: files.certFile, fingerprint: pair.fingerprint, validTo: pair.validTo, ...(files.clientCaFile ? { clientCaFile: files.clientCaFile } : {}) }, 'reload: management listener certificate replaced (new connections get it)');
    return pair;
  } catch (err) {
    log.error({ event: 'api.tlsReloadRejected', certFile: files.certFile, keyFile: files.keyFile, err: (err as Error).message }, 'reload: management listener certificate or key unusable; keeping the one it serves');
    return undefined;
  }
}

/** A certificate that expires within CERT_EXPIRY_WARN_DAYS (or has): one warning at start and at each reload. */
export function warnCertExpiry(pair: Pick<TlsPair, 'notAfter' | 'validTo' | 'fingerprint'>, log: Pick<TlsReloadLog, 'warn'>, now = Date.now()): void {
  const days = daysLeft(pair.notAfter, now);
  if (days >= CERT_EXPIRY_WARN_DAYS) return;
  log.warn({ event: 'api.tlsCertExpiring', validTo: pair.validTo, fingerprint: pair.fingerprint, daysLeft: Math.floor(days) }, days < 0 ? 'management listener certificate has expired: renew api.tls.certFile and send SIGHUP' : `management listener certificate expires in ${Math.floor(days)} days: renew api.tls.certFile and send SIGHUP`);
}
