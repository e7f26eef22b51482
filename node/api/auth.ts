/** Bearer-token authentication for the management listener. */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Health stays open: load balancers and orchestrators probe it without credentials. */
const OPEN = new Set(['/v1/health']);

export function bearerAuth(token: string) {
  const expected = Buffer.from(`Bearer ${token}`);
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (OPEN.has(req.url.split('?')[0]!)) return;
    const got = Buffer.from(req.headers.authorization ?? '');
    // Constant-time compare, so the token cannot be guessed byte by byte from timings.
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
      await reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="hafw"')
        .send({ error: 'unauthorized', message: 'missing or wrong bearer token (Authorization: Bearer <token>, see api.tokenFile)' });
    }
  };
}
