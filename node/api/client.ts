/**
 * Minimal HTTP client for a node's API (used by the CLI and the lab): the local control
 * socket by default, or a node's management listener (`remote`: http(s)://host:port, a
 * bearer token, the CA that signed its certificate). Every way a connection can fail is
 * one line that says what to do, since the CLI prints it as it is.
 */
import http from 'node:http';
import https from 'node:https';
import { defaultControlSocket } from './control-socket.js';

export class ControlError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** A node's management listener, as the CLI's --url, --token-file and --ca-file give it. */
export interface RemoteTarget {
  url: URL;
  token: string;
  /** Where the token came from, named when the node refuses it. */
  tokenFile?: string;
  /** PEM CA certificate(s) trusted for an https URL (absent: the system's CAs). */
  ca?: Buffer;
  caFile?: string;
  /** A client certificate and key, for a listener with mutual TLS (api.tls.clientCaFile). */
  clientCert?: { cert: Buffer; key: Buffer; certFile: string };
}

/** Which node a request goes to: a control socket (default: this namespace's) or a remote listener. */
export interface Target {
  socket?: string;
  remote?: RemoteTarget;
}

/** The node's address as messages name it. */
function targetName(t: Target): string {
  return t.remote ? t.remote.url.origin : `control socket ${t.socket ?? defaultControlSocket()}`;
}

/** Starts a request to the target; the caller writes the body, ends it and handles errors. */
export function openRequest(t: Target, method: string, urlPath: string, headers: Record<string, string>, timeoutMs?: number): http.ClientRequest {
  const r = t.remote;
  if (!r) return http.request({ socketPath: t.socket ?? defaultControlSocket(), path: urlPath, method, headers, ...(timeoutMs !== undefined ? { timeout: timeoutMs } : {}) });
  const base = r.url.pathname.replace(/\/+$/, '');
  const options: https.RequestOptions = {
    hostname: r.url.hostname.replace(/^\[|\]$/g, ''),
    port: r.url.port || (r.url.protocol === 'https:' ? 443 : 80),
    path: `${base}${urlPath}`,
    method,
    headers: { ...headers, authorization: `Bearer ${r.token}` },
    // A fresh connection per request: the CLI makes a few and exits; an agent's kept-alive
    // socket would hold the process open.
    agent: false,
    ...(timeoutMs !== undefined ? { timeout: timeoutMs } : {}),
  };
  if (r.url.protocol === 'https:') return https.request({ ...options, ...(r.ca ? { ca: r.ca } : {}), ...(r.clientCert ? { cert: r.clientCert.cert, key: r.clientCert.key } : {}) });
  return http.request(options);
}

/** OpenSSL verification codes that mean "signed by no CA I trust". */
const UNTRUSTED = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE']);

/** A connection failure as one line naming the node and the fix. `hint`: how to run it locally. */
export function connectionError(err: NodeJS.ErrnoException & { reason?: string }, t: Target, hint = 'hafw status'): Error {
  const r = t.remote;
  if (!r) {
    if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
      return new ControlError(`no hafw node is running in this network namespace (no control socket at ${t.socket ?? defaultControlSocket()}); run the command inside the node's namespace, e.g. ip netns exec hafw-fwa ${hint}, or reach its management listener with --url`);
    }
    return err;
  }
  const where = r.url.origin;
  const code = err.code ?? '';
  if (UNTRUSTED.has(code)) {
    return new ControlError(r.caFile
      ? `${where}: the node's certificate is not trusted: it is not signed by the CA in ${r.caFile} (${code})`
      : `${where}: the node's certificate is not trusted (${code}): pass the CA certificate that signed it with --ca-file FILE (or HAFW_CA_FILE)`);
  }
  // Mutual TLS (api.tls.clientCaFile): the node's alert, as OpenSSL names it.
  if (code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' || /alert certificate required/i.test(err.message)) {
    return new ControlError(`${where}: the node asks for a client certificate (api.tls.clientCaFile): pass one with --cert-file FILE --key-file FILE (or HAFW_CERT_FILE, HAFW_KEY_FILE)`);
  }
  if (/^ERR_SSL_(TLSV1_ALERT_UNKNOWN_CA|SSLV3_ALERT_BAD_CERTIFICATE|SSLV3_ALERT_CERTIFICATE_EXPIRED|TLSV1_ALERT_DECRYPT_ERROR|SSLV3_ALERT_UNSUPPORTED_CERTIFICATE)$/.test(code)) {
    return new ControlError(`${where}: the node refused the client certificate${r.clientCert ? ` in ${r.clientCert.certFile}` : ''} (${err.reason ?? code}): it must be signed by the CA in the node's api.tls.clientCaFile, valid now, and made for client authentication`);
  }
  // A certificate the node's CA did not sign (or expired): Node's server checks it after the
  // handshake and closes the connection without an alert, so the client sees a hang-up.
  if (r.clientCert && r.url.protocol === 'https:' && (code === 'ECONNRESET' || /socket hang up/.test(err.message))) {
    return new ControlError(`${where}: the node closed the connection after the TLS handshake: it refused the client certificate in ${r.clientCert.certFile} (it must be signed by the CA in the node's api.tls.clientCaFile, valid now, and made for client authentication)`);
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new ControlError(`${where}: the node's certificate does not name host '${r.url.hostname}' (${err.reason ?? 'hostname mismatch'}); use a name or address the certificate lists`);
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return new ControlError(`${where}: the node's certificate is ${code === 'CERT_HAS_EXPIRED' ? 'expired' : 'not valid yet'}: renew it (api.tls.certFile) and send the node SIGHUP`);
  if (code === 'ECONNREFUSED') return new ControlError(`${where}: connection refused: nothing listens there (is api.listen set to this address and port, and the node running?)`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new ControlError(`${where}: unknown host '${r.url.hostname}'`);
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ETIMEDOUT') return new ControlError(`${where}: no route to the node (${code})`);
  // An https URL to a plain listener: OpenSSL reads an HTTP answer as a bad record.
  if (r.url.protocol === 'https:' && (code === 'EPROTO' || /wrong version number|packet length too long/i.test(err.message))) {
    return new ControlError(`${where}: the listener does not speak TLS (api.tls is not set on the node); use an http:// URL only on loopback`);
  }
  // An http URL to a TLS listener: it closes the connection on the first bytes.
  if (r.url.protocol === 'http:' && (code === 'ECONNRESET' || /socket hang up/.test(err.message))) {
    return new ControlError(`${where}: the connection was closed at once; if the node serves TLS (api.tls), use https://`);
  }
  return new ControlError(`${where}: ${err.message}`);
}

/** An HTTP error answer as one line; 401 and 403 say which credential was refused. */
export function statusError(method: string, urlPath: string, status: number, body: unknown, text: string, t: Target): ControlError {
  const msg = (body as { message?: string })?.message ?? text;
  const r = t.remote;
  if (r && status === 401) return new ControlError(`${r.url.origin}: token refused (401 unauthorized): the token${r.tokenFile ? ` in ${r.tokenFile}` : ''} is not this node's API token (api.tokenFile)`, status);
  if (r && status === 403) return new ControlError(`${r.url.origin}: token refused for ${method} ${urlPath} (403 forbidden): ${msg}`, status);
  return new ControlError(`${method} ${urlPath}: ${status} ${msg}`, status);
}

export async function controlRequest<T>(method: string, urlPath: string, opts: Target & { body?: unknown; timeoutMs?: number } = {}): Promise<T> {
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  const timeoutMs = opts.timeoutMs ?? 5000;
  return new Promise<T>((resolve, reject) => {
    const req = openRequest(opts, method, urlPath, payload ? { 'content-type': 'application/json' } : {}, timeoutMs);
    req.on('response', (res: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        if ((res.statusCode ?? 500) >= 400) reject(statusError(method, urlPath, res.statusCode ?? 500, body, text, opts));
        else resolve(body as T);
      });
    });
    req.on('timeout', () => req.destroy(new ControlError(`no answer from the node (${targetName(opts)}) within ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => reject(err instanceof ControlError ? err : connectionError(err, opts)));
    if (payload) req.write(payload);
    req.end();
  });
}
