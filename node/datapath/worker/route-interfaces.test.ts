import assert from 'node:assert/strict';
import { RouteInterfaces } from './route-interfaces.js';

const v4 = (s: string) => new Uint8Array(s.split('.').map(Number));
function v6(words: number[]): Uint8Array {
  const b = new Uint8Array(16);
  words.forEach((w, i) => ((b[i * 2] = w >> 8), (b[i * 2 + 1] = w & 255)));
  return b;
}

describe('interfaces from routes', () => {
  const r = new RouteInterfaces();
  r.load([
    { family: 4, prefix: v4('0.0.0.0'), len: 0, ifId: 2 },
    { family: 4, prefix: v4('192.0.2.0'), len: 24, ifId: 1 },
    { family: 4, prefix: v4('192.0.2.128'), len: 25, ifId: 3 },
    { family: 6, prefix: v6([0x2001, 0xdb8, 1, 0, 0, 0, 0, 0]), len: 64, ifId: 1 },
    { family: 6, prefix: v6([0x2001, 0xdb8, 2, 0, 0, 0, 0, 0]), len: 64, ifId: 2 },
  ]);

  it('picks the longest matching IPv4 prefix', () => {
    assert.equal(r.lookup(v4('192.0.2.100'), 0, 4), 1);
    assert.equal(r.lookup(v4('192.0.2.200'), 0, 4), 3);
    assert.equal(r.lookup(v4('198.51.100.1'), 0, 4), 2, 'default route');
  });

  it('matches IPv6 prefixes on every word and says 0 when nothing covers the address', () => {
    assert.equal(r.lookup(v6([0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100]), 0, 6), 1);
    assert.equal(r.lookup(v6([0x2001, 0xdb8, 2, 0, 0, 0, 0, 1]), 0, 6), 2);
    assert.equal(r.lookup(v6([0x2001, 0xdb8, 3, 0, 0, 0, 0, 1]), 0, 6), 0);
  });

  it('reads addresses at an offset inside a larger buffer', () => {
    const buf = new Uint8Array(40);
    buf.set(v4('192.0.2.130'), 12);
    assert.equal(r.lookup(buf, 12, 4), 3);
  });

  it('gives the MTU of the route it picks (rt mtu), 0 when the route has none or nothing covers the address', () => {
    const m = new RouteInterfaces();
    m.load([
      { family: 4, prefix: v4('0.0.0.0'), len: 0, ifId: 2, mtu: 1500 },
      { family: 4, prefix: v4('192.0.2.0'), len: 24, ifId: 1, mtu: 1400 },
      { family: 4, prefix: v4('192.0.2.128'), len: 25, ifId: 3 },
      { family: 6, prefix: v6([0x2001, 0xdb8, 1, 0, 0, 0, 0, 0]), len: 64, ifId: 1, mtu: 1280 },
    ]);
    assert.equal(m.mtuTo(v4('192.0.2.1'), 0, 4), 1400);
    assert.equal(m.mtuTo(v4('198.51.100.1'), 0, 4), 1500);
    assert.equal(m.mtuTo(v4('192.0.2.200'), 0, 4), 0);
    assert.equal(m.mtuTo(v6([0x2001, 0xdb8, 1, 0, 0, 0, 0, 9]), 0, 6), 1280);
    assert.equal(m.mtuTo(v6([0x2001, 0xdb8, 2, 0, 0, 0, 0, 9]), 0, 6), 0);
    assert.equal(m.lookup(v4('192.0.2.1'), 0, 4), 1, 'the interface lookup is unchanged');
  });
});

describe('the fib lookup\'s view of the routes (fibOif)', () => {
  const r = new RouteInterfaces();
  r.load([
    { family: 4, prefix: v4('0.0.0.0'), len: 0, ifId: 2, mtu: 1500 },
    { family: 4, prefix: v4('192.0.2.0'), len: 24, ifId: 1 },
    { family: 4, prefix: v4('192.0.2.128'), len: 25, ifId: 0, reject: true },
    { family: 6, prefix: v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0]), len: 32, ifId: 0, reject: true },
    { family: 6, prefix: v6([0x2001, 0xdb8, 1, 0, 0, 0, 0, 0]), len: 64, ifId: 1 },
  ]);

  it('a rejecting route (blackhole, unreachable, ...) is no route for fib; interface inference and rt mtu skip it as before', () => {
    assert.equal(r.fibOif(v4('192.0.2.200'), 0, 4), 0);
    assert.equal(r.lookup(v4('192.0.2.200'), 0, 4), 1, 'the /24 behind it');
    assert.equal(r.mtuTo(v4('192.0.2.200'), 0, 4), 0);
    assert.equal(r.fibOif(v4('192.0.2.100'), 0, 4), 1);
    assert.equal(r.fibOif(v4('203.0.113.1'), 0, 4), 2);
    assert.equal(r.fibOif(v6([0x2001, 0xdb8, 1, 0, 0, 0, 0, 1]), 0, 6), 1);
    assert.equal(r.fibOif(v6([0x2001, 0xdb8, 9, 0, 0, 0, 0, 1]), 0, 6), 0);
    assert.equal(r.lookup(v6([0x2001, 0xdb8, 9, 0, 0, 0, 0, 1]), 0, 6), 0);
  });
});
