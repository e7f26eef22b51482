/**
 * GET / and GET /console/<file>: the console on the node's API listeners. These routes
 * need no token (the page and its scripts hold no secret; the browser cannot send a
 * bearer token when it navigates); every API call the console makes carries the token the
 * operator entered, and the API checks it as for any client.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ConsoleAssets, assetPath } from './assets.js';

/** Paths the bearer check lets through (GET and HEAD only): the console's files. */
export function isConsolePath(method: string, url: string): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  return url === '/' || url.startsWith('/console/');
}

export function registerConsole(app: FastifyInstance, assets = new ConsoleAssets()): void {
  const send = (name: string, req: FastifyRequest, reply: FastifyReply): FastifyReply => {
    let a;
    try {
      a = assets.get(name);
    } catch (err) {
      return reply.code(500).send({ error: 'internal', message: `console file missing from this installation: ${assetPath(name)} (${(err as Error).message})` });
    }
    if (!a) return reply.code(404).send({ error: 'not_found', message: `no console file /console/${name}` });
    reply
      .header('content-security-policy', assets.contentSecurityPolicy())
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('x-frame-options', 'DENY')
      .header('cache-control', 'no-cache')
      .header('etag', a.etag);
    if (req.headers['if-none-match'] === a.etag) return reply.code(304).send();
    return reply.type(a.type).send(a.body);
  };
  const hide = { schema: { hide: true } };
  app.get('/', hide, (req, reply) => send('index.html', req, reply));
  app.get('/console/*', hide, (req, reply) => send((req.params as { '*': string })['*'], req, reply));
}
