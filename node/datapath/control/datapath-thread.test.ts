import assert from 'node:assert/strict';
import pino from 'pino';
import { Registry } from 'prom-client';
import { DatapathDownError, DatapathThread } from './datapath-thread.js';
import { buildApp, type NodeStatus } from '../../api/server.js';

const fake = new URL('../worker/testing-worker.js', import.meta.url);
const opts = { workerUrl: fake, tunName: 'fake0', offloads: false, batchSize: 1, maxBatchesPerWake: 1, routes: [] };

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end && !cond()) await new Promise((r) => setTimeout(r, 5));
  return cond();
}

describe('datapath thread handle: a dead or failed thread is an error, never made-up figures', function () {
  this.timeout(10000);

  it('after the thread crashes, queries reject with the reason (no zeros, no "sync off") and the owner is told once', async () => {
    const failures: Error[] = [];
    const t = await DatapathThread.start(opts, (e) => failures.push(e));
    try {
      assert.deepEqual(await t.ctCount(), { total: 7, replicated: 2, capacity: 1024 });
      assert.equal(await t.syncReport(), null); // sync off: a real answer
      t.setSniffing(false); // the double crashes
      assert.ok(await until(() => failures.length > 0, 5000), 'failure reported');
      await assert.rejects(t.ctCount(), (e: Error) => e instanceof DatapathDownError && /injected crash/.test(e.message));
      await assert.rejects(t.syncReport(), DatapathDownError);
      await assert.rejects(t.ctOp({ op: 'list', filter: {}, limit: 1 }), DatapathDownError);
      assert.equal((await t.loadRuleset('')).ok, false);
      assert.equal(failures.length, 1);
      assert.match(failures[0]!.message, /injected crash/);
    } finally {
      await t.stop();
    }
  });

  it('a fatal fault reported by a running thread (its sync worker died) puts it down: in sync withdrawn, queries 503', async () => {
    const failures: Error[] = [];
    const t = await DatapathThread.start(opts, (e) => failures.push(e));
    const inSync: boolean[] = [];
    t.syncInSync = true;
    t.onInSync((v) => inSync.push(v));
    try {
      t.setSniffing(true); // the double reports its sync worker's death
      assert.ok(await until(() => failures.length > 0, 5000), 'failure reported');
      assert.match(failures[0]!.message, /state sync worker failed/);
      assert.equal(t.syncInSync, false);
      assert.deepEqual(inSync, [false]);
      const err = await t.ctCount().then(() => undefined, (e: DatapathDownError) => e);
      assert.ok(err instanceof DatapathDownError);
      assert.equal(err.statusCode, 503);
      // The API answers 503 with the reason while the node stops.
      const status = { node: 'fwa', role: 'master', pid: 1, uptimeSeconds: 1, datapath: { tun: 'fake0', offloads: false, vnetHdrLen: 0, counters: {}, native: {} } } as NodeStatus;
      const app = await buildApp({ status: () => status, metrics: new Registry(), cluster: { ctCount: () => t.ctCount(), syncReport: () => t.syncReport() } }, pino({ level: 'silent' }));
      try {
        for (const url of ['/v1/ct/count', '/v1/sync/stats']) {
          const r = await app.inject({ method: 'GET', url });
          assert.equal(r.statusCode, 503, url);
          const body = r.json() as { error: string; reason: string };
          assert.equal(body.error, 'unavailable');
          assert.match(body.reason, /state sync worker failed/);
        }
      } finally {
        await app.close();
      }
    } finally {
      await t.stop();
    }
    assert.equal(failures.length, 1, 'stopping is no second failure');
  });
});
