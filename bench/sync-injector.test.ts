import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConnTracker, CtStatus } from '../node/conntrack/index.js';
import { EventKind, EventRing } from '../sync-protocol/index.js';
import { SyncBridge } from '../node/datapath/worker/sync-bridge.js';
import { runDatapathExtensions } from '../node/datapath/worker/extensions.js';
import { BenchInjector } from './sync-injector.js';

async function statusOf(file: string, id: number, ms: number): Promise<Record<string, number>> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const s = JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>;
      if (s.id === id) return s;
    } catch {
      // not written yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('no status');
}

describe('sync bench injector (bench only, preloaded into the datapath thread)', function () {
  this.timeout(10000);

  it('creates local connections in the real table whose events reach the ring, paced by the ring room', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hafw-inject-'));
    try {
      const ct = new ConnTracker({ maxEntries: 8192 });
      const ring = new EventRing(2048); // smaller than the run: the injector must wait for room
      const bridge = new SyncBridge(ct, ring);
      ct.onEvent = (kind, entry) => bridge.onEvent(kind, entry);
      const inj = new BenchInjector(ct, bridge, dir);
      inj.start();
      writeFileSync(path.join(dir, `${process.pid}.json`), JSON.stringify({ id: 1, count: 3000, rate: 0, sport: 4242 }));
      // Drain the ring as the sync worker would, checking each event.
      const seen = new Set<string>();
      const end = Date.now() + 5000;
      while (seen.size < 3000 && Date.now() < end) {
        for (let r = ring.pop(); r !== undefined; r = ring.pop()) {
          assert.equal(r.kind, EventKind.New);
          assert.equal(r.proto, 17);
          assert.equal(r.origSport, 4242);
          assert.equal(r.origDport, 9);
          assert.deepEqual([...r.origDst], [198, 51, 100, 100]);
          seen.add(r.origSrc.join('.'));
        }
        await new Promise((r) => setTimeout(r, 2));
      }
      const st = await statusOf(path.join(dir, `${process.pid}.status.json`), 1, 2000);
      assert.equal(st.injected, 3000);
      assert.equal(st.refused, 0);
      assert.equal(st.ringFull, 0, 'never overflowed the ring');
      assert.equal(seen.size, 3000, 'one event per distinct connection');
      assert.ok(seen.has('198.18.0.0') && seen.has('198.18.11.183'));
      assert.equal(ct.count(), 3000);
      let local = 0;
      ct.forEach((e) => {
        if ((ct.getStatus(e) & CtStatus.Replicated) === 0) local++;
      });
      assert.equal(local, 3000, 'local entries, not replicas');
      assert.equal(bridge.local, false, 'events after the run are not taken as local traffic');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a node\'s sync bridge ignores HAFW_SYNC_BENCH_INJECT; the bench preload starts the injector through the datapath\'s extension seam', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hafw-inject-'));
    const saved = process.env.HAFW_SYNC_BENCH_INJECT;
    process.env.HAFW_SYNC_BENCH_INJECT = dir;
    try {
      writeFileSync(path.join(dir, `${process.pid}.json`), JSON.stringify({ id: 7, count: 100, rate: 0, sport: 5353 }));
      const ct = new ConnTracker({ maxEntries: 1024 });
      const bridge = new SyncBridge(ct, new EventRing(4096)); // the injector keeps 1024 slots free
      ct.onEvent = (kind, entry) => bridge.onEvent(kind, entry);
      // What ships never names the variable (a fact of the code, not a wait for an injector
      // that does not come): only bench/ reads it.
      const shipped = ['node', 'sync-protocol', 'failover', 'ruleset-dist', 'inet'].map((d) => fileURLToPath(new URL(`../${d}`, import.meta.url)));
      const readers = shipped.flatMap((d) => (readdirSync(d, { recursive: true }) as string[]).filter((f) => f.endsWith('.js') && readFileSync(path.join(d, f), 'utf8').includes('HAFW_SYNC_BENCH_INJECT')).map((f) => path.join(d, f)));
      assert.deepEqual(readers, [], 'production code does not read the variable');
      assert.equal(ct.count(), 0);
      // What the bench does: the preload registers, the datapath thread runs the extensions.
      await import('./sync-inject-preload.js');
      runDatapathExtensions({ ct, bridge });
      const st = await statusOf(path.join(dir, `${process.pid}.status.json`), 7, 2000);
      assert.equal(st.injected, 100);
      assert.equal(ct.count(), 100);
    } finally {
      if (saved === undefined) delete process.env.HAFW_SYNC_BENCH_INJECT;
      else process.env.HAFW_SYNC_BENCH_INJECT = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
