import assert from 'node:assert/strict';
import { UdpTransport } from './udp-transport.js';
import { SyncEndpoint } from './endpoint.js';
import { SyncRunner } from './runner.js';
import { EventRing } from './ring.js';
import { EventKind } from './state-record.js';
import { syncClock } from './lag.js';
import { ReplicaTable, makeRecord } from './testing/fixtures.js';

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 5));
  }
  return cond();
}

describe('UDP unicast shell on 127.0.0.1', function () {
  this.timeout(10000);

  it('replicates events pushed into the ring between two endpoints over real sockets', async () => {
    const key = Buffer.alloc(32, 3);
    const tables = [new ReplicaTable(), new ReplicaTable()];
    const eps = [1, 2].map((id, i) => new SyncEndpoint({ nodeId: id, epoch: 1, key, startupGraceMs: 300 }, tables[i]!));
    const ring = new EventRing(1024);
    const runners: SyncRunner[] = [];
    const transports: UdpTransport[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const t = await UdpTransport.open({ mode: 'unicast', port: 0, bindAddr: '127.0.0.1', peers: [] }, (m) => runners[i]!.onDatagram(m));
        transports.push(t);
        runners.push(new SyncRunner(eps[i]!, t, i === 0 ? ring : null));
      }
      transports[0]!.setPeers([{ address: '127.0.0.1', port: transports[1]!.port }]);
      transports[1]!.setPeers([{ address: '127.0.0.1', port: transports[0]!.port }]);
      for (const r of runners) r.start();
      assert.ok(await until(() => eps[0]!.inSync && eps[1]!.inSync, 3000), 'both in sync');
      for (let i = 0; i < 500; i++) assert.ok(ring.push(makeRecord(i, EventKind.New, syncClock())));
      assert.ok(await until(() => tables[1]!.rows.size === 500, 3000), `replicated ${tables[1]!.rows.size}`);
      assert.equal(tables[0]!.rows.size, 0, 'nothing echoed back');
      assert.ok(await until(() => eps[0]!.stats.lagSamples.length > 0, 2000), 'lag measured from the ACK echo');
    } finally {
      for (const r of runners) r.stop();
      for (const t of transports) await t.close();
    }
  });

  it('publishes in the ring how far the peers acknowledged its events (the datapath\'s deferral waits for it); not before the peer ACKed', async () => {
    const key = Buffer.alloc(32, 3);
    const tables = [new ReplicaTable(), new ReplicaTable()];
    const eps = [1, 2].map((id, i) => new SyncEndpoint({ nodeId: id, epoch: 1, key, startupGraceMs: 300 }, tables[i]!));
    const ring = new EventRing(1024);
    const runners: SyncRunner[] = [];
    const transports: UdpTransport[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const t = await UdpTransport.open({ mode: 'unicast', port: 0, bindAddr: '127.0.0.1', peers: [] }, (m) => runners[i]!.onDatagram(m));
        transports.push(t);
        runners.push(new SyncRunner(eps[i]!, t, i === 0 ? ring : null));
      }
      transports[0]!.setPeers([{ address: '127.0.0.1', port: transports[1]!.port }]);
      transports[1]!.setPeers([{ address: '127.0.0.1', port: transports[0]!.port }]);
      for (const r of runners) r.start();
      assert.ok(await until(() => eps[0]!.inSync && eps[1]!.inSync, 3000), 'both in sync');
      for (let i = 0; i < 10; i++) ring.push(makeRecord(i, EventKind.New, syncClock()));
      const pos = ring.written;
      assert.ok(await until(() => ring.acked === pos, 3000), `acknowledged ${ring.acked} of ${pos}`);
      assert.equal(tables[1]!.rows.size, 10, 'the peer has every record acknowledged');
      // The peer stops answering (still live for the peer timeout): the count stays behind.
      runners[1]!.stop();
      await transports[1]!.close();
      transports.pop();
      ring.push(makeRecord(100, EventKind.New, syncClock()));
      assert.equal(await until(() => ring.acked === ring.written, 200), false, 'not acknowledged: nobody ACKed it');
      assert.equal(ring.read, ring.written, 'the worker did read and send it');
    } finally {
      for (const r of runners) r.stop();
      for (const t of transports) await t.close();
    }
  });
});
