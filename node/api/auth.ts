/**
 * Bearer-token authentication for the management listener. Three credentials: the API
 * token (api.tokenFile) may do everything; the optional view token (api.viewTokenFile)
 * may read everything but change nothing, for the operators and dashboards that watch the
 * cluster; the optional metrics token (api.metricsTokenFile) may only read GET /metrics,
 * so the monitoring system that must hold a credential does not hold one that can change
 * the ruleset or drop connections.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Health stays open: load balancers and orchestrators probe it without credentials. */
const OPEN = new Set(['/v1/health']);
/** What the metrics token may read (GET and HEAD only). */
const METRICS_ONLY = new Set(['/metrics']);
/**
 * Requests that are not GET or HEAD but change nothing, so the view token may make them:
 * a ruleset check validates against a scratch copy and applies nothing.
 */
const VIEW_POSTS = new Set(['/v1/ruleset/check']);

/** What a request may do: `full` (the API token, or the control socket), `view` (read only). */
export type Access = 'full' | 'view';

const viewRequests = new WeakSet<FastifyRequest>();

/** The access of an authenticated request (`full` where no token is asked for: the control socket). */
export function accessOf(req: FastifyRequest): Access {
  return viewRequests.has(req) ? 'view' : 'full';
}

/** Whether the view token may make this request: reads, and the writes that change nothing. */
export function viewAllows(method: string, path: string): boolean {
  return method === 'GET' || method === 'HEAD' || (method === 'POST' && VIEW_POSTS.has(path));
}

/** Constant-time compare, so a token cannot be guessed byte by byte from timings. */
function matches(got: Buffer, expected: Buffer): boolean {
  return got.length === expected.length && timingSafeEqual(got, expected);
}

export interface BearerTokens {
  /** The API token: everything. */
  token: string;
  /** May read GET /metrics only. */
  metricsToken?: string;
  /** May read everything, change nothing. */
  viewToken?: string;
}

/**
 * `open`: more requests that need no token (the web console's files: the page and its
 * scripts hold no secret, and a browser cannot send a bearer token when it navigates).
 */
export function bearerAuth(tokens: BearerTokens, open?: (method: string, path: string) => boolean) {
  const expected = Buffer.from(`Bearer ${tokens.token}`);
  const metrics = tokens.metricsToken !== undefined ? Buffer.from(`Bearer ${tokens.metricsToken}`) : undefined;
  const view = tokens.viewToken !== undefined ? Buffer.from(`Bearer ${tokens.viewToken}`) : undefined;
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const path = req.url.split('?')[0]!;
    if (OPEN.has(path) || open?.(req.method, path)) return;
    const got = Buffer.from(req.headers.authorization ?? '');
    if (matches(got, expected)) return;
    if (view !== undefined && matches(got, view)) {
      if (viewAllows(req.method, path)) {
        viewRequests.add(req);
        return;
      }
      await reply.code(403).send({ error: 'forbidden', access: 'view', message: `the view token (api.viewTokenFile) may read but not change anything: ${req.method} ${path} needs the API token (api.tokenFile)` });
      return;
    }
    if (metrics !== undefined && matches(got, metrics)) {
      if ((req.method === 'GET' || req.method === 'HEAD') && METRICS_ONLY.has(path)) return;
      await reply.code(403).send({ error: 'forbidden', message: 'the metrics token (api.metricsTokenFile) may only read GET /metrics; use the API token (api.tokenFile) for anything else' });
      return;
    }
    await reply
      .code(401)
      .header('www-authenticate', 'Bearer realm="hafw"')
      .send({ error: 'unauthorized', message: 'missing or wrong bearer token (Authorization: Bearer <token>, see api.tokenFile)' });
  };
}
