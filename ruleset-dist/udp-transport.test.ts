import assert from 'node:assert/strict';
import { UdpTcpTransport } from './udp-transport.js';
import { RulesetDistributor } from './distributor.js';
import { FakeStore } from './testing/fake-store.js';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe('ruleset-dist over UDP + TCP (unicast on loopback addresses)', () => {
  it('announces, pushes an UPDATE and serves a FETCH of a text bigger than a datagram', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const key = new Uint8Array(32).fill(5);
    const ta = await UdpTcpTransport.open({ address: '127.0.0.1', port, peers: ['127.0.0.2'] });
    const tb = await UdpTcpTransport.open({ address: '127.0.0.2', port, peers: ['127.0.0.1'] });
    const sa = new FakeStore('r1');
    const sb = new FakeStore('r1');
    const a = new RulesetDistributor({ nodeId: 1, name: 'fwa', epoch: 1, key, role: () => 'master', announceIntervalMs: 50, startupGraceMs: 100 }, sa, ta, quiet);
    const b = new RulesetDistributor({ nodeId: 2, name: 'fwb', epoch: 1, key, role: () => 'backup', announceIntervalMs: 50, startupGraceMs: 100 }, sb, tb, quiet);
    const waitFor = async (what: string, cond: () => boolean): Promise<void> => {
      const until = Date.now() + 4000;
      while (!cond()) {
        if (Date.now() > until) throw new Error(`timed out: ${what}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    try {
      await a.start();
      await b.start();
      await waitFor('b hears a as master', () => b.status().master === 'fwa');
      await a.write(sa.tx({ add: ['r2'] }), { add: ['r2'] }, 'tx');
      await waitFor('b at 2 by UPDATE', () => b.currentVersion() === 2);
      assert.equal(b.counters.updatesApplied, 1);
      // 200 kB of rules: far beyond a datagram, so only the TCP fetch can carry it.
      const big = { add: Array.from({ length: 4000 }, (_, i) => `rule number ${i} ${'x'.repeat(40)}`) };
      await a.write(sa.tx(big), big, 'bulk');
      await waitFor('b at 3 by FETCH', () => b.currentVersion() === 3);
      assert.equal(sb.lines.length, 4002);
      assert.equal(b.currentHash(), a.currentHash());
      assert.ok(a.counters.fetchesServed >= 1);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});
