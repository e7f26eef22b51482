import assert from 'node:assert/strict';
import { antiSpoofRules, outputRoutes, type MainRoute } from './own-traffic-routes.js';
import type { PlainAddress } from '../shared/messages.js';

const ADDRS: PlainAddress[] = [
  { ifname: 'lan', family: 4, bytes: [192, 0, 2, 1], vip: true },
  { ifname: 'lan', family: 4, bytes: [192, 0, 2, 2], vip: false },
  { ifname: 'wan', family: 4, bytes: [198, 51, 100, 2], vip: false },
  { ifname: 'lan', family: 6, bytes: [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], vip: false },
  { ifname: 'lan', family: 6, bytes: [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], vip: false },
  { ifname: 'sync', family: 4, bytes: [203, 0, 113, 1], vip: false },
];

describe('the node\'s own output: routes of the output table', () => {
  const main: Record<'-4' | '-6', MainRoute[]> = {
    '-4': [
      { dst: 'default', dev: 'wan', metric: 0 },
      { dst: '192.0.2.0/24', dev: 'lan', prefsrc: '192.0.2.2' },
      { dst: '198.51.100.0/24', dev: 'wan', prefsrc: '198.51.100.2' },
      { dst: '203.0.113.0/24', dev: 'sync', prefsrc: '203.0.113.1' },
      { dst: '198.18.0.0/15', type: 'blackhole' },
      { dst: '192.0.2.128/25', dev: 'hafw0' },
      { dst: 'default', dev: 'sync', metric: 100 },
    ],
    '-6': [
      { dst: '2001:db8:1::/64', dev: 'lan' },
      { dst: 'fe80::/64', dev: 'lan' },
      { dst: '2001:db8:77::/64', dev: 'sync' },
    ],
  };
  const got = outputRoutes(main, ['lan', 'wan'], ADDRS, 'hafw0', 101);
  const text = got.map((r) => `${r.fam} ${r.args.join(' ')}`);

  it('routes via a protected interface go into the TUN device with the source the kernel would pick', () => {
    assert.ok(text.includes('-4 192.0.2.0/24 dev hafw0 src 192.0.2.2 table 101'));
    assert.ok(text.includes('-4 198.51.100.0/24 dev hafw0 src 198.51.100.2 table 101'));
    // No preferred source in main: the interface's first address, never a VIP or link-local.
    assert.ok(text.includes('-4 default dev hafw0 src 198.51.100.2 table 101'), 'the lowest metric wins (wan, not sync)');
    assert.ok(text.includes('-6 2001:db8:1::/64 dev hafw0 src 2001:db8:1::2 table 101'));
  });

  it('everything else is thrown back to main: the sync and management interfaces are never filtered', () => {
    assert.ok(text.includes('-4 throw 203.0.113.0/24 table 101'));
    assert.ok(text.includes('-4 throw 198.18.0.0/15 table 101'), 'a blackhole route of main keeps its meaning');
    assert.ok(text.includes('-6 throw 2001:db8:77::/64 table 101'));
    assert.ok(!text.some((t) => t.includes('192.0.2.128/25')), 'routes into the TUN device itself are not mirrored');
  });

  it('a protected interface without an address of the family cannot source packets: thrown', () => {
    const r = outputRoutes({ '-4': [], '-6': [{ dst: '2001:db8:2::/64', dev: 'wan' }] }, ['lan', 'wan'], ADDRS, 'hafw0', 101);
    assert.deepEqual(r.map((x) => x.args.join(' ')), ['throw 2001:db8:2::/64 table 101']);
  });
});

describe('the node\'s own output: anti-spoof rules', () => {
  it('every own address (VIPs held included) is dropped as a source arriving on a protected interface', () => {
    const r = antiSpoofRules(['lan', 'wan'], ADDRS, 96).map((x) => `${x.fam} ${x.args.join(' ')}`);
    assert.ok(r.includes('-4 iif lan from 192.0.2.1/32 priority 96 blackhole'));
    assert.ok(r.includes('-4 iif wan from 192.0.2.2/32 priority 96 blackhole'));
    assert.ok(r.includes('-6 iif wan from 2001:db8:1::2/128 priority 96 blackhole'));
    assert.ok(r.includes('-4 iif lan from 203.0.113.1/32 priority 96 blackhole'));
    assert.equal(r.length, ADDRS.length * 2);
  });
});
