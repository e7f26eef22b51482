/**
 * Bearer-token authentication for the management listener. Two credentials: the API
 * token (api.tokenFile) may do everything; the optional metrics token
 * (api.metricsTokenFile) may only read GET /metrics, so the monitoring system that must
 * hold a credential does not hold one that can change the ruleset or drop connections.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Health stays open: load balancers and orchestrators probe it without credentials. */
const OPEN = new Set(['/v1/health']);
/** What the metrics token may read (GET and HEAD only). */
const METRICS_ONLY = new Set(['/metrics']);

/** Constant-time compare, so a token cannot be guessed byte by byte from timings. */
function matches(got: Buffer, expected: Buffer): boolean {
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/**
 * `open`: more requests that need no token (the web console's files: the page and its
 * scripts hold no secret, and a browser cannot send a bearer token when it navigates).
 */
export function bearerAuth(token: string, metricsToken?: string, open?: (method: string, path: string) => boolean) {
  const expected = Buffer.from(`Bearer ${token}`);
  const metrics = metricsToken !== undefined ? Buffer.from(`Bearer ${metricsToken}`) : undefined;
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const path = req.url.split('?')[0]!;
    if (OPEN.has(path) || open?.(req.method, path)) return;
    const got = Buffer.from(req.headers.authorization ?? '');
    if (matches(got, expected)) return;
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
