/**
 * How many GET /v1/events streams one listener serves at once. Each stream holds a
 * socket, a bus subscription and a keepalive timer for as long as the client wants, and
 * every event is written to each of them: without a cap, a client with the token (or a
 * buggy one reconnecting in a loop) could open them until memory or the event loop
 * gives out. Beyond the cap a request is answered 503 at once, with the reason.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';

/** api.maxEventStreams when the config says nothing. */
export const DEFAULT_MAX_EVENT_STREAMS = 32;

export class StreamLimit {
  private openNow = 0;
  private refusedTotal = 0;

  constructor(readonly max: number = DEFAULT_MAX_EVENT_STREAMS) {}

  get open(): number {
    return this.openNow;
  }

  /** Streams refused since start (hafw_api_event_streams_refused_total). */
  get refused(): number {
    return this.refusedTotal;
  }

  /**
   * Takes a slot, or answers 503 and returns false. Call release() once when a stream
   * that got a slot ends.
   */
  admit(reply: FastifyReply): boolean {
    if (this.openNow < this.max) {
      this.openNow++;
      return true;
    }
    this.refusedTotal++;
    void reply
      .code(503)
      .header('retry-after', '10')
      .send({
        error: 'too_many_streams',
        message: `this listener already serves ${this.openNow} event streams, its limit (api.maxEventStreams: ${this.max}); close one or raise the setting`,
      });
    return false;
  }

  release(): void {
    if (this.openNow > 0) this.openNow--;
  }
}

/** Comment lines keep idle proxies and sockets from timing an event stream out. */
const KEEPALIVE_MS = 15000;

/**
 * The life of one admitted stream after its headers: a keepalive comment every 15 s, and
 * when the client goes, its subscription ended, the timer stopped, the socket forgotten
 * and the slot given back.
 */
export function serveUntilClosed(res: ServerResponse, streams: Set<ServerResponse>, limit: StreamLimit, unsubscribe: () => void): void {
  streams.add(res);
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
  keepalive.unref();
  res.on('close', () => {
    unsubscribe();
    clearInterval(keepalive);
    streams.delete(res);
    limit.release();
  });
}
