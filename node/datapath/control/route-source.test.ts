import assert from 'node:assert/strict';
import { plainRoutes, type IpRouteJson } from './route-source.js';

describe('routes from ip -j route', () => {
  // As `ip -j route show table main` writes them (iproute2 6.1).
  const routes: IpRouteJson[] = [
    { dst: 'default', dev: 'wan' },
    { dst: '192.0.2.0/24', dev: 'lan', prefsrc: '192.0.2.1' },
    { dst: '198.51.100.0/24', dev: 'lan', metrics: [{ mtu: 1300 }] },
    { dst: '203.0.113.0/24', dev: 'hafw0' },
    { dst: '203.0.113.128/25', dev: 'lan', type: 'blackhole' },
  ];
  const links = new Map([['lan', 1400], ['wan', 1492]]);

  it('gives each route its MTU: the route\'s mtu metric, else its device\'s (as the kernel\'s dst_mtu)', () => {
    const out = plainRoutes(4, routes, links, 'hafw0');
    assert.deepEqual(out, [
      { family: 4, prefix: [0, 0, 0, 0], len: 0, ifname: 'wan', mtu: 1492 },
      { family: 4, prefix: [192, 0, 2, 0], len: 24, ifname: 'lan', src: [192, 0, 2, 1], mtu: 1400 },
      { family: 4, prefix: [198, 51, 100, 0], len: 24, ifname: 'lan', mtu: 1300 },
      { family: 4, prefix: [203, 0, 113, 128], len: 25, ifname: '', reject: true },
    ]);
  });

  it('keeps blackhole, unreachable, prohibit and throw routes as rejecting (fib finds no route there); other types are left out', () => {
    const out = plainRoutes(4, [
      { dst: '198.18.0.0/15', type: 'unreachable' },
      { dst: '10.0.0.0/8', type: 'prohibit' },
      { dst: '172.16.0.0/12', type: 'throw' },
      { dst: '192.0.2.255', dev: 'lan', type: 'broadcast' },
    ], links, 'hafw0');
    assert.deepEqual(out.map((r) => [r.prefix.join('.'), r.len, r.reject]), [['198.18.0.0', 15, true], ['10.0.0.0', 8, true], ['172.16.0.0', 12, true]]);
  });

  it('leaves the MTU out when the device is unknown', () => {
    assert.deepEqual(plainRoutes(6, [{ dst: '2001:db8::/64', dev: 'dmz' }], links, 'hafw0'), [
      { family: 6, prefix: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], len: 64, ifname: 'dmz' },
    ]);
  });
});
