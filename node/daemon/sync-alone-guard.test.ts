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
    let peers: unknown[] = [];
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
});
