import assert from 'node:assert/strict';
import type { NodeStatus } from '../../node/api/index.js';
import { counterGrowth, judgePair, roleOf } from './pair-state.js';

function status(node: string, opts: { vrrp?: string; rx?: number; up?: number } = {}): NodeStatus {
  return {
    node,
    role: opts.vrrp ?? 'standalone',
    vrrp: opts.vrrp ? { state: opts.vrrp, priority: 100, configuredPriority: 100, inSync: true, counters: {} } : undefined,
    pid: 1,
    uptimeSeconds: opts.up ?? 10,
    datapath: { tun: 'hafw0', offloads: true, vnetHdrLen: 10, counters: { rx_packets: opts.rx ?? 0 }, native: {} },
  };
}

describe('pair state', () => {
  it('is ready with exactly one master and one backup, and names the master', () => {
    const v = judgePair([
      { service: 'fw-a', status: status('fw-a', { vrrp: 'master' }) },
      { service: 'fw-b', status: status('fw-b', { vrrp: 'backup' }) },
    ]);
    assert.equal(v.ready, true);
    assert.deepEqual(v.masters, ['fw-a']);
    assert.deepEqual(v.backups, ['fw-b']);
  });

  it('is not ready while a node does not answer, and says which and why', () => {
    const v = judgePair([
      { service: 'fw-a', status: status('fw-a', { vrrp: 'master' }) },
      { service: 'fw-b', error: 'no hafw node is running' },
    ]);
    assert.equal(v.ready, false);
    assert.match(v.reason, /fw-b \(no hafw node is running\)/);
  });

  it('calls two masters a split brain', () => {
    const v = judgePair([
      { service: 'fw-a', status: status('fw-a', { vrrp: 'master' }) },
      { service: 'fw-b', status: status('fw-b', { vrrp: 'master' }) },
    ]);
    assert.equal(v.ready, false);
    assert.match(v.reason, /split brain/);
  });

  it('is not ready while both nodes are still backups', () => {
    const v = judgePair([
      { service: 'fw-a', status: status('fw-a', { vrrp: 'backup' }) },
      { service: 'fw-b', status: status('fw-b', { vrrp: 'backup' }) },
    ]);
    assert.equal(v.ready, false);
    assert.match(v.reason, /no single master yet: fw-a=backup fw-b=backup/);
  });

  it('accepts standalone nodes (no vrrp section, static VIPs)', () => {
    const v = judgePair([
      { service: 'fw-a', status: status('fw-a') },
      { service: 'fw-b', status: status('fw-b') },
    ]);
    assert.equal(v.ready, true);
    assert.equal(roleOf(status('x')), 'standalone');
  });

  it('measures counter growth within one node run, and from zero after a restart', () => {
    assert.equal(counterGrowth(status('a', { rx: 100, up: 5 }), status('a', { rx: 350, up: 9 }), 'rx_packets'), 250);
    // Uptime went backwards: the node restarted and its counters started again at 0.
    assert.equal(counterGrowth(status('a', { rx: 100, up: 50 }), status('a', { rx: 30, up: 2 }), 'rx_packets'), 30);
    assert.equal(counterGrowth(undefined, status('a', { rx: 30 }), 'rx_packets'), 0);
    assert.equal(counterGrowth(status('a'), status('a'), 'no_such_counter'), 0);
  });
});
