import assert from 'node:assert/strict';
import { SyncAloneGuard } from './sync-alone-guard.js';

describe('VRRP readiness: a node that hears no sync peer', () => {
  let t = 0;
  const now = (): number => t;

  it('counts as alone only after the VRRP link has been silent for the whole wait', () => {
    t = Date.now();
    const g = new SyncAloneGuard(1030, async () => ({ status: { peers: [] } }), now);
    assert.equal(g.allowsReady(0), false, 'too early to call it alone');
    t += 1030;
    assert.equal(g.allowsReady(0), true);
  });

  it('is not alone once a VRRP router was heard: readiness waits for a sync peer', async () => {
    t = Date.now();
    let peers: { node: number; inSync?: boolean }[] = [];
    const g = new SyncAloneGuard(1030, async () => ({ status: { peers } }), now);
    assert.equal(g.allowsReady(1), false);
    t += 5000;
    assert.equal(g.allowsReady(0), false, 'a router heard once means the sync link, not the peer, is missing');
    let changes = 0;
    g.start(() => changes++);
    try {
      peers = [{ node: 2 }];
      for (let i = 0; i < 40 && changes === 0; i++) await new Promise((r) => setTimeout(r, 25));
      assert.equal(changes, 1, 'told when the sync peer became known');
      assert.equal(g.allowsReady(1), true);
    } finally {
      g.stop();
    }
  });

  it('after all sync peers were lost, a router heard again (a healed partition) is not alone: ready only once a sync peer is back and its resync done', async () => {
    t = Date.now();
    let peers: { node: number; inSync: boolean }[] = [{ node: 2, inSync: true }];
    const g = new SyncAloneGuard(1030, async () => ({ status: { peers } }), now);
    let changes = 0;
    const wait = async (n: number): Promise<void> => {
      for (let i = 0; i < 40 && changes < n; i++) await new Promise((r) => setTimeout(r, 25));
      assert.equal(changes, n);
    };
    g.start(() => changes++);
    try {
      await wait(1);
      assert.equal(g.allowsReady(1), true, 'a sync peer with its table: sync decides');
      // Cut off: state sync forgot its peers (it calls the node alone and in sync).
      peers = [];
      await wait(2);
      assert.equal(g.allowsReady(1, 0), true, 'no router heard lately either: really alone (the others are gone)');
      assert.equal(g.allowsReady(1, 1), false, 'a router heard: the others are alive, this node is cut off or just back');
      // Healed: sync hears a peer again, its resync not done yet.
      peers = [{ node: 2, inSync: false }];
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(g.allowsReady(1, 1), false, 'the peer is back but its table is not');
      peers = [{ node: 2, inSync: true }];
      await wait(3);
      assert.equal(g.allowsReady(1, 1), true);
    } finally {
      g.stop();
    }
  });
});
