/**
 * @lab the management API of a real running node: bearer-token auth, Prometheus text,
 * and bad requests that get a 4xx naming the problem and change nothing.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Lab, LAB_DIR, sh, strictRulesetConfig } from './lab.js';

const TOKEN = 'hafw-test-token-0123456789abcdef';

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string>;
}

/** Runs requests with fetch inside the node's namespace (the API listens on its loopback). */
async function call(lab: Lab, method: string, url: string, opts: { token?: string; body?: string } = {}): Promise<Answer> {
  const script = `
    const r = await fetch(${JSON.stringify(`http://127.0.0.1:8470${url}`)}, {
      method: ${JSON.stringify(method)},
      headers: { ...(${JSON.stringify(opts.token ?? '')} ? { authorization: 'Bearer ' + ${JSON.stringify(opts.token ?? '')} } : {}), ...(${JSON.stringify(opts.body !== undefined)} ? { 'content-type': 'application/json' } : {}) },
      body: ${opts.body === undefined ? 'undefined' : JSON.stringify(opts.body)},
    });
    console.log(JSON.stringify({ status: r.status, body: await r.text(), headers: Object.fromEntries(r.headers) }));`;
  const out = await sh([process.execPath, '--input-type=module', '-e', script], { ns: lab.node('fwa').ns });
  return JSON.parse(out) as Answer;
}

describe('@lab management API (bearer token)', function () {
  this.timeout(60000);
  let lab: Lab;
  before(async () => {
    const tokenFile = path.join(LAB_DIR, 'api.token');
    await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const rules = await strictRulesetConfig();
    lab = await Lab.up({ nodes: 1, extraConfig: () => `${rules}api:\n  listen: 127.0.0.1:8470\n  tokenFile: ${tokenFile}\n` });
  });
  after(async () => {
    await Lab.down();
  });

  it('answers health without a token and everything else only with the right one', async () => {
    assert.equal((await call(lab, 'GET', '/v1/health')).status, 200);
    const none = await call(lab, 'GET', '/v1/status');
    assert.equal(none.status, 401);
    assert.match(JSON.parse(none.body).message, /bearer token/);
    assert.equal(none.headers['www-authenticate'], 'Bearer realm="hafw"');
    assert.equal((await call(lab, 'GET', '/v1/status', { token: `${TOKEN}x` })).status, 401);
    assert.equal((await call(lab, 'GET', '/metrics', { token: 'wrong' })).status, 401);
    const ok = await call(lab, 'GET', '/v1/status', { token: TOKEN });
    assert.equal(ok.status, 200);
    assert.equal(JSON.parse(ok.body).node, 'fwa');
  });

  it('serves /metrics in the Prometheus text format', async () => {
    const r = await call(lab, 'GET', '/metrics', { token: TOKEN });
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type']!, /^text\/plain/);
    const lines = r.body.split('\n').filter((l) => l !== '');
    for (const l of lines) {
      if (l.startsWith('#')) assert.match(l, /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* /, l);
      else assert.match(l, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"]*",?)*\})? -?[0-9.e+-]+|NaN|[+-]Inf$/, l);
    }
    assert.ok(lines.some((l) => l.startsWith('hafw_datapath_packets_total{')));
    assert.ok(lines.some((l) => l.startsWith('hafw_ruleset_rules{')));
  });

  it('rejects malformed transactions with a 4xx that names the problem, and changes nothing', async () => {
    const before = JSON.parse((await call(lab, 'GET', '/v1/status', { token: TOKEN })).body).ruleset;
    const notJson = await call(lab, 'POST', '/v1/ruleset/transactions', { token: TOKEN, body: '{"ops": [' });
    assert.equal(notJson.status, 400);
    const noOps = await call(lab, 'POST', '/v1/ruleset/transactions', { token: TOKEN, body: '{"opz": []}' });
    assert.equal(noOps.status, 400);
    assert.match(JSON.parse(noOps.body).message, /ops/);
    const badRule = await call(lab, 'POST', '/v1/ruleset/transactions', { token: TOKEN, body: JSON.stringify({ ops: 'add rule inet filter forward tcp dport 99999 accept' }) });
    assert.equal(badRule.status, 400);
    const err = JSON.parse(badRule.body) as { errors: { line: number; col: number; message: string }[] };
    assert.ok(err.errors.length > 0 && err.errors[0]!.col > 0, badRule.body);
    const after = JSON.parse((await call(lab, 'GET', '/v1/status', { token: TOKEN })).body).ruleset;
    assert.deepEqual(after, before, 'the ruleset is unchanged');
  });
});
