/**
 * The console in headless chromium against an in-process API (no lab, no root): the paths
 * the lab test does not walk. The metrics token is refused at login with the reason; set
 * elements are added and removed in place; a rule applied on a generation that changed
 * behind the console's back is answered 409 and shown, and the ruleset is not overwritten;
 * a token rotated while logged in returns to the login page; the view token sees everything
 * but no control that changes anything, and a write it tries anyway is refused. Skipped without Debian's
 * chromium (npm test installs it: scripts/install-system-deps.sh --browser).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { Registry } from 'prom-client';
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildApp, buildClusterInfo, EventBus, type NodeStatus } from '../node/api/index.js';
import { RulesetEngine } from '../node/ruleset/index.js';
import { RulesetService } from '../node/daemon/ruleset-service.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'browser-test-token';
const VIEW_TOKEN = 'browser-test-view-token';
const BASE = 'table inet filter {\n  set blocked {\n    type ipv4_addr\n    elements = { 192.0.2.9 }\n  }\n  chain forward {\n    type filter hook forward priority 0; policy drop;\n    ip saddr @blocked drop\n  }\n}\n';

describe('console in a browser (in-process API)', function () {
  this.timeout(60000);
  let app: FastifyInstance;
  let browser: Browser;
  let page: Page;
  let url: string;
  let engine: RulesetEngine;
  let service: RulesetService;
  const errors: string[] = [];
  /** Whether commits reach the event stream (off: a change the console cannot know of). */
  let publish = true;

  before(async function () {
    if (!existsSync(CHROMIUM)) this.skip();
    engine = new RulesetEngine();
    engine.load(BASE);
    service = new RulesetService(engine, async () => ({ ok: true }), { info: () => undefined, error: () => undefined });
    const events = new EventBus();
    service.onChange((ev) => {
      if (publish) events.publish('ruleset', ev);
    });
    const status = (): NodeStatus => ({ node: 'fw1', role: 'standalone', pid: 1, uptimeSeconds: 1, ruleset: { file: null, generation: engine.generation, ...engine.counts() }, datapath: { tun: 'hafw0', offloads: false, vnetHdrLen: 0, counters: {}, native: {} } });
    app = await buildApp({ status, metrics: new Registry(), ruleset: service, events, control: { ctOp: async () => ({ entries: [], deleted: 0 }), cluster: async () => buildClusterInfo(status(), [], null) } }, pino({ level: 'silent' }), { token: TOKEN, metricsToken: 'metrics-token', viewToken: VIEW_TOKEN });
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
    page.on('console', (m) => {
      // The 401 and 409 answers the test provokes are logged by the browser as failed loads.
      if (m.type() === 'error' && !/status of (401|403|409)/.test(m.text())) errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
  });
  after(async () => {
    await browser?.close();
    await app?.close();
  });

  it('refuses the metrics token at login, saying why, and lets the API token in', async () => {
    await page.goto(url);
    await page.getByLabel('API token').fill('metrics-token');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').filter({ hasText: 'metrics token' }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('hafw.token')), null, 'a refused token is not kept');
    await page.getByLabel('API token').fill(TOKEN);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('[data-testid=node-card][data-node=fw1]').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('hafw.token')), TOKEN);
    assert.equal(await page.evaluate(() => localStorage.length + document.cookie.length), 0, 'nothing but sessionStorage');
  });

  it('adds and removes set elements in place', async () => {
    await page.getByRole('link', { name: 'Ruleset' }).click();
    await page.getByLabel('New element').fill('198.51.100.7');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByRole('button', { name: 'remove 198.51.100.7 from blocked' }).waitFor();
    assert.match(engine.list(), /elements = \{ 192\.0\.2\.9,\s+198\.51\.100\.7 \}/);
    await page.getByRole('button', { name: 'remove 192.0.2.9 from blocked' }).click();
    await page.getByRole('button', { name: 'remove 192.0.2.9 from blocked' }).waitFor({ state: 'detached' });
    assert.match(engine.list(), /elements = \{ 198\.51\.100\.7 \}/);
  });

  it('shows a conflict when the ruleset changed under the preview, and overwrites nothing', async () => {
    const builder = page.getByTestId('builder');
    await builder.getByLabel('Add a statement').selectOption('verdict');
    await builder.getByRole('button', { name: 'Add statement' }).click();
    await builder.getByTestId('check-state').filter({ hasText: 'Valid against generation' }).waitFor();
    // Someone else commits, and the console is not told.
    publish = false;
    await service.transaction('add rule inet filter forward tcp dport 23 drop');
    const rulesBefore = engine.list();
    await builder.getByTestId('apply').click();
    await builder.getByTestId('apply-result').filter({ hasText: 'Not applied' }).waitFor();
    assert.match(await builder.getByTestId('apply-result').innerText(), /ruleset changed: transaction based on generation \d+, current is \d+\. Nothing was overwritten/);
    assert.equal(engine.list(), rulesBefore, 'the other change stands, the console applied nothing');
    publish = true;
  });

  it('logs in with the view token: everything is shown, no control that changes anything, and a write is refused with the reason', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    const v = await ctx.newPage();
    const viewErrors: string[] = [];
    v.on('console', (m) => {
      if (m.type() === 'error' && !/status of 403/.test(m.text())) viewErrors.push(m.text());
    });
    v.on('pageerror', (e) => viewErrors.push(e.message));
    try {
      await v.goto(url);
      await v.getByLabel('API token').fill(VIEW_TOKEN);
      await v.getByRole('button', { name: 'Log in' }).click();
      await v.locator('[data-testid=node-card][data-node=fw1]').waitFor();
      await v.getByTestId('view-only').waitFor();
      await v.getByRole('link', { name: 'Ruleset' }).click();
      // The listing, the sets and the builder's preview are there; applying is not.
      await v.getByTestId('ruleset-text').filter({ hasText: 'chain forward' }).waitFor();
      await v.getByText('type ipv4_addr').first().waitFor();
      const builder = v.getByTestId('builder');
      await builder.getByLabel('Add a statement').selectOption('verdict');
      await builder.getByRole('button', { name: 'Add statement' }).click();
      await builder.getByTestId('check-state').filter({ hasText: 'Valid against generation' }).waitFor();
      await builder.getByTestId('apply-view-only').waitFor();
      assert.equal(await builder.getByTestId('apply').count(), 0, 'no apply button');
      assert.equal(await v.getByRole('button', { name: /^remove .* from blocked$/ }).count(), 0, 'no element removal');
      assert.equal(await v.getByLabel('New element').count(), 0, 'no element form');
      await v.getByRole('link', { name: 'Drills' }).click();
      await v.getByTestId('drill-view-only').waitFor();
      assert.equal(await v.getByRole('button', { name: 'Start drill' }).count(), 0);
      // A write made anyway, through the console's own client: the node refuses it and says why.
      const before = engine.list();
      const message = await v.evaluate(async (client) => {
        const { api } = (await import(client)) as { api: (method: string, url: string, body?: unknown) => Promise<unknown> };
        try {
          await api('POST', '/v1/ruleset/transactions', { ops: 'add rule inet filter forward tcp dport 23 drop' });
          return 'applied';
        } catch (err) {
          return `${(err as { status: number }).status} ${(err as Error).message}`;
        }
      }, '/console/api.js');
      assert.equal(message, '403 the view token (api.viewTokenFile) may read but not change anything: POST /v1/ruleset/transactions needs the API token (api.tokenFile)');
      assert.equal(engine.list(), before);
      assert.equal(await v.evaluate(() => sessionStorage.getItem('hafw.token')), 'browser-test-view-token', 'a 403 does not log out');
      assert.deepEqual(viewErrors, []);
    } finally {
      await ctx.close();
    }
  });

  it('returns to the login page when the token stops working', async () => {
    // A rotated token file: the node no longer accepts what the console holds.
    await page.route('**/v1/**', (route) => route.continue({ headers: { ...route.request().headers(), authorization: 'Bearer rotated' } }));
    await page.getByRole('link', { name: 'Connections' }).click(); // its first call gets 401
    await page.getByLabel('API token').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('hafw.token')), null);
    assert.deepEqual(errors, []);
  });
});
