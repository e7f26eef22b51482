import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { RulesetEngine } from '../ruleset/index.js';
import { RulesetService } from '../daemon/ruleset-service.js';
import { buildApp } from './server.js';

const BASE = 'table inet keep { chain c { type filter hook forward priority 0; tcp dport 22 accept } }\n';
const quiet = { info: () => undefined, error: () => undefined, warn: () => undefined };

describe('POST /v1/ruleset/transactions answers with the node\'s warnings', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('keeps the warnings field through the response schema (it was stripped before)', async () => {
    const engine = new RulesetEngine();
    engine.load(BASE, 'base.nft');
    const service = new RulesetService(engine, async () => ({ ok: true }), quiet, async () => ({ ok: true }));
    service.warningsFor = () => ['keep/c: a warning the node computed'];
    app = await buildApp({ status: () => ({}) as never, metrics: new Registry(), ruleset: service }, pino({ level: 'silent' }));
    const res = await app.inject({ method: 'POST', url: '/v1/ruleset/transactions', payload: { ops: 'add rule inet keep c udp dport 53 accept' } });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json<{ generation: number; warnings?: string[] }>();
    assert.equal(body.generation, 2);
    assert.deepEqual(body.warnings, ['keep/c: a warning the node computed']);
  });
});
