import assert from 'node:assert/strict';
import { formatIp } from './ip-address.js';
import { parseVip, Vip, VipGroup, VipMover } from './vip-group.js';

class FakeMover implements VipMover {
  held = new Set<string>();
  calls: string[] = [];
  failOn = new Set<string>();
  pending: (() => void)[] = [];
  manual = false;
  private step(op: string, v: Vip, f: () => void): Promise<void> {
    this.calls.push(`${op} ${v.cidr} ${v.ifname}`);
    return new Promise((resolve, reject) => {
      const run = () => {
        if (this.failOn.has(v.cidr)) reject(new Error(`RTNETLINK answers: Operation not permitted (${v.cidr})`));
        else { f(); resolve(); }
      };
      if (this.manual) this.pending.push(run); else run();
    });
  }
  add(v: Vip) { return this.step('add', v, () => this.held.add(`${v.ifname} ${v.cidr}`)); }
  remove(v: Vip) { return this.step('del', v, () => this.held.delete(`${v.ifname} ${v.cidr}`)); }
  flush() { const p = this.pending; this.pending = []; for (const r of p) r(); }
}

const vips = [parseVip('lan', '192.0.2.1/24')!, parseVip('wan', '198.51.100.1/24')!, parseVip('lan', '2001:db8::1/64')!];

describe('vip-group', () => {
  it('parses VIPs with and without a prefix and rejects bad ones', () => {
    const v = parseVip('lan', '192.0.2.1')!;
    assert.equal(v.cidr, '192.0.2.1/32');
    assert.equal(formatIp(v.address), '192.0.2.1');
    assert.equal(parseVip('lan', '2001:db8::1/64')!.prefixLength, 64);
    assert.equal(parseVip('lan', '192.0.2.1/33'), undefined);
    assert.equal(parseVip('lan', '192.0.2.x/24'), undefined);
    assert.equal(parseVip('', '192.0.2.1/24'), undefined);
  });

  it('adds and removes all VIPs on all interfaces as one group', async () => {
    const m = new FakeMover();
    const g = new VipGroup(vips, m);
    const r = await g.setActive(true);
    assert.deepEqual(r, { active: true, failed: [] });
    assert.deepEqual([...m.held].sort(), ['lan 192.0.2.1/24', 'lan 2001:db8::1/64', 'wan 198.51.100.1/24']);
    await g.setActive(false);
    assert.equal(m.held.size, 0);
    assert.equal(g.current, false);
  });

  it('reports the VIPs that failed and still applies the rest', async () => {
    const m = new FakeMover();
    m.failOn.add('198.51.100.1/24');
    const r = await new VipGroup(vips, m).setActive(true);
    assert.equal(r.failed.length, 1);
    assert.equal(r.failed[0]!.vip.ifname, 'wan');
    assert.match(r.failed[0]!.error, /not permitted/);
    assert.equal(m.held.size, 2);
  });

  it('serializes requests and runs only the latest of those that queued up', async () => {
    const m = new FakeMover();
    m.manual = true;
    const g = new VipGroup(vips, m);
    const p1 = g.setActive(true);
    await Promise.resolve();
    const p2 = g.setActive(false);
    const p3 = g.setActive(true);
    assert.equal(m.calls.length, 3); // only the first request is running
    m.flush();
    const r1 = await p1;
    assert.equal(r1.active, true);
    const [r2, r3] = await Promise.all([p2, p3]);
    // the queued "false" was superseded by "true", which was already applied
    assert.equal(r2.active, true);
    assert.equal(r3.active, true);
    assert.deepEqual(m.calls.filter((c) => c.startsWith('del')), []);
    assert.equal(m.held.size, 3);
  });

  it('a release queued behind a take runs after it', async () => {
    const m = new FakeMover();
    m.manual = true;
    const g = new VipGroup(vips, m);
    const p1 = g.setActive(true);
    const p2 = g.setActive(false);
    await Promise.resolve();
    m.flush();
    await new Promise((r) => setImmediate(r));
    m.flush();
    const [r1, r2] = await Promise.all([p1, p2]);
    assert.equal(r2.active, false);
    assert.equal(m.held.size, 0);
    assert.equal(r1.active, true);
    assert.deepEqual(m.calls.map((c) => c.split(' ')[0]), ['add', 'add', 'add', 'del', 'del', 'del']);
  });
});
