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
    ]);
  });

  it('leaves the MTU out when the device is unknown', () => {
    assert.deepEqual(plainRoutes(6, [{ dst: '2001:db8::/64', dev: 'dmz' }], links, 'hafw0'), [
      { family: 6, prefix: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], len: 64, ifname: 'dmz' },
    ]);
  });
});
