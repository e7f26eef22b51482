/** Minimal HTTP client for the control socket (used by the CLI and the lab). */
import http from 'node:http';
import { defaultControlSocket } from './control-socket.js';

export class ControlError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export async function controlRequest<T>(method: string, urlPath: string, opts: { socket?: string; body?: unknown; timeoutMs?: number } = {}): Promise<T> {
  const socketPath = opts.socket ?? defaultControlSocket();
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise<T>((resolve, reject) => {
    const req = http.request(
      { socketPath, path: urlPath, method, headers: payload ? { 'content-type': 'application/json' } : {}, timeout: opts.timeoutMs ?? 5000 },
      (res) => {
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
          if ((res.statusCode ?? 500) >= 400) {
            const msg = (body as { message?: string })?.message ?? text;
            reject(new ControlError(`${method} ${urlPath}: ${res.statusCode} ${msg}`, res.statusCode));
          } else resolve(body as T);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from the node on ${socketPath} within ${opts.timeoutMs ?? 5000} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
        reject(new ControlError(`no hafw node is running in this network namespace (no control socket at ${socketPath}); run the command inside the node's namespace, e.g. ip netns exec hafw-fwa hafw status`));
      } else reject(err);
    });
    if (payload) req.write(payload);
    req.end();
  });
}
