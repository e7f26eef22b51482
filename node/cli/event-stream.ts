/**
 * Client side of the node's Server-Sent Events stream (GET /v1/events) over the control
 * socket or a management listener: calls `onEvent` with each event's parsed data until
 * the stream ends or `stop()`.
 */
import type http from 'node:http';
import { connectionError, openRequest, statusError, type Target } from '../api/client.js';

interface EventStream {
  /** Generation the stream started after (from the server's first comment line; /v1/events only). */
  readonly started: Promise<number>;
  /** Resolves when the server accepted the stream (a 2xx answer); rejects like `ended`. */
  readonly opened: Promise<void>;
  /** Resolves when the server ends the stream or stop() was called. */
  readonly ended: Promise<void>;
  stop(): void;
}

export function openEventStream(onEvent: (type: string, data: unknown) => void, opts: Target & { path?: string; command?: string } = {}): EventStream {
  const urlPath = opts.path ?? '/v1/events';
  let resolveStart!: (g: number) => void;
  let rejectStart!: (e: Error) => void;
  const started = new Promise<number>((res, rej) => ((resolveStart = res), (rejectStart = rej)));
  let resolveOpen!: () => void;
  let rejectOpen!: (e: Error) => void;
  const opened = new Promise<void>((res, rej) => ((resolveOpen = res), (rejectOpen = rej)));
  let req: http.ClientRequest;
  const ended = new Promise<void>((resolve, reject) => {
    req = openRequest(opts, 'GET', urlPath, { accept: 'text/event-stream' });
    req.on('response', (res: http.IncomingMessage) => {
      if ((res.statusCode ?? 500) >= 400) {
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
          const e = statusError('GET', urlPath.split('?')[0]!, res.statusCode ?? 500, body, text, opts);
          rejectStart(e);
          rejectOpen(e);
          reject(e);
        });
        return;
      }
      resolveOpen();
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
      const e = connectionError(err, opts, opts.command ?? 'hafw monitor');
      rejectStart(e);
      rejectOpen(e);
      reject(e);
    });
    req.end();
  });
  started.catch(() => undefined);
  opened.catch(() => undefined);
  // A caller awaits `opened` (or `started`) first: when that rejects, `ended`'s same error
  // must not also surface as an unhandled rejection (it still rejects for who awaits it).
  ended.catch(() => undefined);
  return { started, opened, ended, stop: () => req.destroy() };
}

/**
 * Follows a stream in the foreground until it ends: SIGINT/SIGTERM stop it (the command
 * then ends normally after what it printed) and the handlers go with it. `wait` is what
 * must come first: the server's acceptance, or (/v1/events) its generation line.
 */
export async function followUntilStopped(stream: EventStream, wait: 'opened' | 'started' = 'opened'): Promise<void> {
  const onSig = (): void => stream.stop();
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  try {
    await stream[wait];
    await stream.ended;
  } finally {
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
  }
}
