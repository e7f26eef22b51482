/**
 * Client side of the node's Server-Sent Events stream (GET /v1/events) over the control
 * socket: calls `onEvent` with each event's parsed data until the stream ends or `stop()`.
 */
import http from 'node:http';
import { defaultControlSocket } from '../api/control-socket.js';

interface EventStream {
  /** Generation the stream started after (from the server's first comment line). */
  readonly started: Promise<number>;
  /** Resolves when the server ends the stream or stop() was called. */
  readonly ended: Promise<void>;
  stop(): void;
}

export function openEventStream(onEvent: (type: string, data: unknown) => void, opts: { socket?: string; path?: string } = {}): EventStream {
  const socketPath = opts.socket ?? defaultControlSocket();
  let resolveStart!: (g: number) => void;
  let rejectStart!: (e: Error) => void;
  const started = new Promise<number>((res, rej) => ((resolveStart = res), (rejectStart = rej)));
  let req: http.ClientRequest;
  const ended = new Promise<void>((resolve, reject) => {
    req = http.request({ socketPath, path: opts.path ?? '/v1/events', method: 'GET', headers: { accept: 'text/event-stream' } }, (res) => {
      if ((res.statusCode ?? 500) >= 400) {
        const e = new Error(`GET /v1/events: ${res.statusCode}`);
        rejectStart(e);
        reject(e);
        res.resume();
        return;
      }
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (chunk: string) => {
        buf += chunk;
        // Events are separated by a blank line (HTML living standard, "event stream interpretation").
        for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          let type = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) {
              const m = /^: generation (\d+)$/.exec(line);
              if (m) resolveStart(Number(m[1]));
            } else if (line.startsWith('event:')) type = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
          }
          if (data.length > 0) onEvent(type, JSON.parse(data.join('\n')));
        }
      });
      res.on('end', () => resolve());
      res.on('close', () => resolve());
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const e =
        err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
          ? new Error(`no hafw node is running in this network namespace (no control socket at ${socketPath}); run the command inside the node's namespace, e.g. ip netns exec hafw-fwa hafw monitor`)
          : err;
      rejectStart(e);
      reject(e);
    });
    req.end();
  });
  started.catch(() => undefined);
  return { started, ended, stop: () => req.destroy() };
}
