/**
 * @lab the web console in a real browser (Debian's chromium, driven by playwright-core)
 * against a running pair: log in, see both nodes and their roles, add a rule with the
 * builder on the master and see it listed on the backup, roll back to it from the history
 * after a second change (both nodes list the rollback), see the lag chart draw, run a drill
 * with TCP flows running and see the backup become master and the report's flows that
 * survived and its traffic timeline, with no console errors. Screenshots go to a
 * directory the test prints.
 *
 * The API listens on each firewall's loopback inside its namespace, so each node gets its
 * own browser started in that namespace (`ip netns exec`); playwright talks to it over
 * the pipe it started it with, which the namespace does not affect.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, writeFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Lab, LAB_DIR, sleep, strictRulesetConfig } from './lab.js';
import { NS } from './topology.js';
import { startEchoServer, tcpRun } from './traffic.js';
import { FlowAgent } from './client-agent.js';
import { SERVER } from './topology.js';

const TOKEN = 'hafw-console-test-token-0123456789';
const CHROMIUM = '/usr/bin/chromium';
const URL = 'http://127.0.0.1:8470/';

interface NodePage {
  browser: Browser;
  page: Page;
  errors: string[];
}

describe('@lab web console in a browser on a 2-node pair', function () {
  this.timeout(120000);
  let lab: Lab | undefined;
  let shots: string;
  let wrappers: string;
  let stopEcho: (() => Promise<void>) | undefined;
  let flows: FlowAgent | undefined;
  /** The cluster version the builder's first rule made (the history test rolls back to it). */
  let firstVersion = 0;
  const pages: Record<string, NodePage> = {};
  let n = 0;

  const shot = async (node: string, name: string): Promise<void> => {
    await pages[node]!.page.screenshot({ path: path.join(shots, `${String(++n).padStart(2, '0')}-${node}-${name}.png`) });
  };

  /** A browser whose network is the firewall's namespace (its loopback has the API). */
  async function open(node: string, viewport = { width: 1100, height: 760 }): Promise<NodePage> {
    const wrapper = path.join(wrappers, `chromium-${node}`);
    await writeFile(wrapper, `#!/bin/sh\nexec ip netns exec ${NS.fw(node)} ${CHROMIUM} "$@"\n`);
    await chmod(wrapper, 0o755);
    const browser = await chromium.launch({ executablePath: wrapper, args: ['--no-sandbox'] });
    const page = await browser.newPage({ viewport });
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`${node} console: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`${node} page error: ${e.message}`));
    pages[node] = { browser, page, errors };
    return pages[node]!;
  }

  /** Logs in with the keyboard: the token field has the focus, Enter submits. */
  async function login(p: Page): Promise<void> {
    await p.goto(URL);
    await p.getByLabel('API token').waitFor();
    await p.keyboard.type(TOKEN);
    await p.keyboard.press('Enter');
    await p.locator('[data-testid=node-card]').first().waitFor();
    await p.locator('[data-testid=stream-state]', { hasText: 'live' }).waitFor();
  }

  before(async function () {
    this.timeout(15 * 60_000);
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: npm test installs it (scripts/install-system-deps.sh --browser)`);
    shots = await mkdtemp(path.join(tmpdir(), 'hafw-console-shots-'));
    wrappers = await mkdtemp(path.join(tmpdir(), 'hafw-console-bin-'));
    console.log(`      console screenshots: ${shots}`);
    const tokenFile = path.join(LAB_DIR, 'console.token');
    const rules = await strictRulesetConfig();
    await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    await chmod(tokenFile, 0o600);
    lab = await Lab.up({ nodes: 2, extraConfig: () => `${rules}api:\n  listen: 127.0.0.1:8470\n  tokenFile: ${tokenFile}\n` });
    await lab.waitRole('fwa', 'master');
    await lab.waitRole('fwb', 'backup');
    stopEcho = await startEchoServer(5001);
  });

  after(async () => {
    flows?.close();
    for (const p of Object.values(pages)) await p.browser.close().catch(() => undefined);
    await stopEcho?.();
    if (lab) await Lab.down();
    if (wrappers) await rm(wrappers, { recursive: true, force: true });
  });

  it('logs in and shows both nodes with their roles', async () => {
    const { page } = await open('fwa');
    await page.goto(URL);
    await shot('fwa', 'login');
    await login(page);
    await page.locator('[data-testid=node-card][data-node=fwa][data-role=master]').waitFor();
    // fwb is listed from what fwa hears of it (ruleset distribution and VRRP).
    await page.locator('[data-testid=node-card][data-node=fwb][data-role=backup]').waitFor({ timeout: 15000 });
    await shot('fwa', 'overview');
  });

  it('adds a rule through the builder on the master, and the backup lists it', async () => {
    const { page } = pages.fwa!;
    await page.getByRole('link', { name: 'Ruleset' }).click();
    const builder = page.getByTestId('builder');
    await builder.getByLabel('Add a match').selectOption('tcp dport');
    await builder.getByRole('button', { name: 'Add match' }).click();
    // Validation as you type: a port out of range is refused at its row before anything is sent.
    await builder.getByLabel(/^value/).fill('99999');
    await builder.locator('[data-testid=match-row] .error').waitFor();
    await builder.getByLabel(/^value/).fill('2222');
    await builder.getByLabel('Add a statement').selectOption('counter');
    await builder.getByRole('button', { name: 'Add statement' }).click();
    await builder.getByLabel('Add a statement').selectOption('verdict');
    await builder.getByRole('button', { name: 'Add statement' }).click();
    await builder.getByTestId('diff').filter({ hasText: 'tcp dport 2222 counter' }).waitFor();
    await builder.screenshot({ path: path.join(shots, `${String(++n).padStart(2, '0')}-fwa-builder.png`) });
    await builder.getByTestId('apply').click();
    await builder.getByTestId('apply-result').filter({ hasText: 'Applied' }).waitFor();
    firstVersion = Number(/cluster version (\d+)/.exec(await builder.getByTestId('apply-result').innerText())?.[1]);
    assert.ok(firstVersion > 0, 'the apply names the cluster version it made');
    await page.getByTestId('ruleset-text').filter({ hasText: 'tcp dport 2222 counter' }).waitFor();

    const b = await open('fwb');
    await login(b.page);
    await b.page.locator('[data-testid=node-card][data-node=fwb][data-role=backup]').waitFor();
    await b.page.getByRole('link', { name: 'Ruleset' }).click();
    await b.page.getByTestId('ruleset-text').filter({ hasText: 'tcp dport 2222 counter' }).waitFor({ timeout: 15000 });
    await shot('fwb', 'ruleset');
  });

  it('rolls back to the first change from the history after a second one; both nodes list the rollback', async () => {
    const { page } = pages.fwa!;
    const builder = page.getByTestId('builder');
    await builder.getByLabel('Add a match').selectOption('tcp dport');
    await builder.getByRole('button', { name: 'Add match' }).click();
    await builder.getByLabel(/^value/).fill('3333');
    await builder.getByLabel('Add a statement').selectOption('verdict');
    await builder.getByRole('button', { name: 'Add statement' }).click();
    await builder.getByTestId('diff').filter({ hasText: 'tcp dport 3333' }).waitFor();
    await builder.getByTestId('apply').click();
    await builder.getByTestId('apply-result').filter({ hasText: 'Applied' }).waitFor();
    const listing = page.getByTestId('ruleset-text');
    await listing.filter({ hasText: 'tcp dport 3333' }).waitFor();
    // The history lists both versions; roll back to the first rule's.
    const history = page.getByTestId('history');
    await history.getByRole('button', { name: `roll back to version ${firstVersion + 1}` }).waitFor();
    page.once('dialog', (d) => void d.accept());
    await history.getByRole('button', { name: `roll back to version ${firstVersion}` }).click();
    await page.getByText(new RegExp(`rolled back: version \\d+ has the content of version ${firstVersion}`)).waitFor();
    await page.waitForFunction(() => {
      const t = document.querySelector('[data-testid=ruleset-text]')?.textContent ?? '';
      return t.includes('tcp dport 2222 counter') && !t.includes('tcp dport 3333');
    }, undefined, { timeout: 10000 });
    await history.locator('tr', { hasText: `rollback to ${firstVersion}` }).first().waitFor();
    await shot('fwa', 'history');
    // The other node's console, live on its own event stream, lists the rolled-back ruleset.
    const b = pages.fwb!.page;
    await b.waitForFunction(() => {
      const t = document.querySelector('[data-testid=ruleset-text]')?.textContent ?? '';
      return t.includes('tcp dport 2222 counter') && !t.includes('tcp dport 3333');
    }, undefined, { timeout: 15000 });
    await b.getByTestId('history').locator('tr', { hasText: `rollback to ${firstVersion}` }).first().waitFor({ timeout: 15000 });
  });

  it('draws the sync lag chart from replicated traffic', async () => {
    // Connections through the master are replicated to the backup; the master measures the
    // lag from the backup's acknowledgements. Traffic comes in short bursts (a client process
    // each, seconds apart on a loaded host), as an operator's often does: the chart must show
    // a burst whenever it fell between its 2 s reads. Bursts go on until the chart has a lag
    // point, within one bound for both, so a chart that never draws still fails.
    const { page } = pages.fwa!;
    await page.getByRole('link', { name: 'Sync & traffic' }).click();
    await page.locator('#lag-chart canvas').waitFor();
    const boundMs = 45_000;
    const start = Date.now();
    const until = start + boundMs;
    let drawn = false;
    let bursts = 0;
    const traffic = (async () => {
      while (!drawn && Date.now() < until) {
        await tcpRun(SERVER.v4, { bytes: 20_000, port: 5001, flows: 4 });
        bursts++;
      }
    })();
    try {
      // A lag point, on a chart of two samples or more (a line: the first read only starts the rates).
      await page.waitForFunction(() => {
        const chart = document.querySelector('#lag-chart');
        return Number(chart?.getAttribute('data-values')) >= 1 && Number(chart?.getAttribute('data-points')) >= 2;
      }, undefined, { timeout: boundMs });
      console.log(`      lag chart drawn ${((Date.now() - start) / 1000).toFixed(1)} s after the first burst started (${bursts} burst(s) done by then)`);
    } catch (err) {
      throw new Error(`no lag point on the chart after ${bursts} bursts of replicated traffic in ${boundMs / 1000} s (${await page.locator('#lag-chart').getAttribute('data-points')} samples read, ${await page.locator('#lag-chart').getAttribute('data-values')} with lag): ${(err as Error).message}`);
    } finally {
      drawn = true;
      await traffic;
    }
    await shot('fwa', 'charts');
  });

  it('lists connections with a filter, shows one with both tuples, and deletes it', async () => {
    const { page } = pages.fwa!;
    // The flows of the chart test have ended; a late segment of one (its last ACK) would
    // create its entry again in the same slot, with the same id, after the delete.
    await sleep(1000);
    await page.getByRole('link', { name: 'Connections' }).click();
    await page.getByLabel('Destination port').fill('5001');
    await page.getByLabel('Origin').selectOption('local');
    await page.getByRole('button', { name: 'Filter' }).click();
    const rows = page.getByTestId('ct-table').locator('tbody tr', { hasText: ':5001' });
    await rows.first().waitFor();
    await rows.first().getByRole('button', { name: 'Details' }).click();
    const heading = page.getByRole('heading', { name: /^Connection \d+$/ });
    const detail = page.locator('section', { has: heading });
    await detail.getByText(`${SERVER.v4}:5001`).first().waitFor();
    // The id of the connection shown (the table may have been re-read between reading a
    // row and clicking it: the filter's answer replaces the first listing).
    const id = /^Connection (\d+)$/.exec((await heading.textContent())!.trim())![1]!;
    page.once('dialog', (d) => void d.accept());
    await detail.getByRole('button', { name: 'Delete connection' }).click();
    await detail.waitFor({ state: 'detached' });
    // The table is read again: the deleted id is gone from it.
    await page
      .waitForFunction((gone) => ![...document.querySelectorAll('[data-testid=ct-table] tbody tr td:first-child')].some((td) => td.textContent?.trim() === gone), id, { timeout: 10000 })
      .catch(async (err: Error) => {
        throw new Error(`connection ${id} still listed after its delete: ${err.message}\n${await page.getByTestId('ct-table').innerText()}`);
      });
  });

  it('runs a drill on the master with flows running: the backup takes over, the report shows flows survived and the traffic timeline', async () => {
    const a = pages.fwa!.page;
    const b = pages.fwb!.page;
    await b.getByRole('link', { name: 'Cluster' }).click();
    await a.getByRole('link', { name: 'Drills' }).click();
    // Six flows, a byte every 20 ms each, for at most 120 s.
    flows = new FlowAgent(SERVER.v4, 5001, 6, { writeEveryMs: 20, lifetimeMs: 120000 });
    await flows.connected();
    // The flows' connections are replicated to fwb before the resign.
    await sleep(1500);
    // 7 s: longer than the 5 s in which the new master reports a flow's packets again.
    await a.getByLabel('Hold (seconds)').fill('7');
    await a.getByRole('button', { name: 'Start drill' }).click();
    // The backup's console, live on its event stream, shows it is master now.
    await b.locator('[data-testid=node-card][data-node=fwb][data-role=master]').waitFor({ timeout: 10000 });
    await shot('fwb', 'new-master');
    await a.getByTestId('takeover').filter({ hasText: /took over in [\d.]+ ms/ }).waitFor({ timeout: 10000 });
    await a.locator('[data-testid=drill-report][data-status=done]').waitFor({ timeout: 30000 });
    await a.waitForFunction(() => Number(document.querySelector('[data-testid=drill-timeline]')?.getAttribute('data-points')) >= 4);
    // What the traffic saw: the flows fwb forwarded while it was master, and fwa's packets
    // through the drill (about 11 s of 50 ms samples), drawn.
    const survived = Number(await a.getByTestId('flows-survived').innerText());
    const flowsText = await a.getByTestId('flows').innerText();
    console.log(`      drill: ${flowsText}; traffic left fwa: ${await a.getByTestId('traffic-left').innerText()}; after the return: ${await a.getByTestId('traffic-after').innerText()}`);
    assert.ok(survived > 0, `flows survived: ${flowsText}`);
    assert.ok(Number(await a.getByTestId('traffic-timeline').getAttribute('data-points')) >= 100);
    await a.getByTestId('traffic-timeline').locator('canvas').waitFor();
    await a.getByTestId('drill-traffic').screenshot({ path: path.join(shots, `${String(++n).padStart(2, '0')}-fwa-drill-traffic.png`) });
    // The report as the API gives it, next to the screenshots (docs/console.md quotes it).
    const report = await a.evaluate(async (client) => {
      const { api } = (await import(client)) as { api: (method: string, url: string) => Promise<unknown[]> };
      return (await api('GET', '/v1/drills')).at(-1);
    }, '/console/api.js');
    await writeFile(path.join(shots, 'drill-report.json'), `${JSON.stringify(report, null, 1)}\n`);
    const marks = await flows.mark();
    // Whether the flows still move data on fwa after the return, and what fwa's tracker
    // made of their packets (printed, not asserted: see the report of issue 21).
    const invalid = async () => Number((await lab!.status('fwa')).datapath.counters.ct_invalid);
    const inv0 = await invalid();
    await sleep(2000);
    const later = await flows.mark();
    console.log(`      after the return, in 2 s: bytes echoed per flow +${later.map((f, i) => f.echoed - marks[i]!.echoed).join(' +')}; fwa ct_invalid +${(await invalid()) - inv0}`);
    assert.deepEqual(marks.map((f) => f.error), marks.map(() => null), 'no flow was reset');
    await a.getByText('this node is master', { exact: true }).waitFor({ timeout: 10000 });
    await shot('fwa', 'drill');
    // Taken back after the hold (preemption): fwa is master again on fwb's console too.
    await b.locator('[data-testid=node-card][data-node=fwb][data-role=backup]').waitFor({ timeout: 10000 });
  });

  it('fits a narrow screen and logged no console errors', async () => {
    const { page } = pages.fwa!;
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('link', { name: 'Cluster' }).click();
    await page.locator('[data-testid=node-card][data-node=fwa]').waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than a 390 px screen`);
    await shot('fwa', 'narrow');
    // The event feed holds what happened: the rule, the drill and the VRRP transitions.
    await page.getByRole('link', { name: 'Events' }).click();
    for (const t of ['ruleset', 'drill', 'vrrp']) await page.getByTestId('events').locator('li strong', { hasText: new RegExp(`^${t}$`) }).first().waitFor();
    assert.deepEqual([...pages.fwa!.errors, ...pages.fwb!.errors], []);
  });
});
