import assert from 'node:assert/strict';
import {
  addrEqual,
  addressInPrefix,
  formatAddress,
  formatIPv6,
  formatPrefix,
  parseAddress,
  parseIPv4,
  parseIPv6,
  parsePrefix,
  prefixMatch,
} from './index.js';

const round6 = (s: string): string => formatIPv6(parseIPv6(s));

describe('addresses', () => {
  it('parses and prints IPv4', () => {
    assert.deepEqual([...parseIPv4('192.0.2.255')], [192, 0, 2, 255]);
    assert.equal(formatAddress(parseIPv4('0.0.0.0')), '0.0.0.0');
  });

  it('refuses bad IPv4 with a reason', () => {
    assert.throws(() => parseIPv4('192.0.2'), /expected 4 dot-separated parts, got 3/);
    assert.throws(() => parseIPv4('192.0.2.256'), /part 4 "256" is greater than 255/);
    assert.throws(() => parseIPv4('192.0.02.1'), /leading zero/);
    assert.throws(() => parseIPv4('192.0.x.1'), /part 3 "x"/);
    assert.throws(() => parseIPv4(''), /invalid IPv4 address ""/);
  });

  it('parses IPv6 with "::" anywhere and an IPv4 tail', () => {
    assert.deepEqual([...parseIPv6('::')], new Array(16).fill(0));
    assert.deepEqual([...parseIPv6('::1')], [...new Array(15).fill(0), 1]);
    assert.deepEqual([...parseIPv6('2001:db8::')].slice(0, 4), [0x20, 0x01, 0x0d, 0xb8]);
    assert.deepEqual([...parseIPv6('::ffff:192.0.2.1')].slice(10), [0xff, 0xff, 192, 0, 2, 1]);
    assert.deepEqual([...parseIPv6('1:2:3:4:5:6:7:8')].slice(14), [0, 8]);
    assert.deepEqual([...parseIPv6('1:2:3:4:5:6:192.0.2.1')].slice(12), [192, 0, 2, 1]);
  });

  it('refuses bad IPv6 with a reason', () => {
    assert.throws(() => parseIPv6('1::2::3'), /"::" may appear only once/);
    assert.throws(() => parseIPv6('1:2:3:4:5:6:7'), /expected 8 groups, got 7/);
    assert.throws(() => parseIPv6('1:2:3:4:5:6:7:8:9'), /expected 8 groups, got 9/);
    assert.throws(() => parseIPv6('1:2:3:4::5:6:7:8'), /at least one group/);
    assert.throws(() => parseIPv6('12345::'), /group "12345"/);
    assert.throws(() => parseIPv6('fe80::1%eth0'), /zone ids/);
    assert.throws(() => parseIPv6(':1:2:3:4:5:6:7'), /empty group/);
    assert.throws(() => parseIPv6('::1.2.3'), /embedded IPv4/);
  });

  it('prints IPv6 in RFC 5952 form', () => {
    assert.equal(round6('2001:0DB8:0000:0000:0000:0000:0000:0001'), '2001:db8::1');
    assert.equal(round6('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1'); // first of equal runs
    assert.equal(round6('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1'); // one zero group stays
    assert.equal(round6('2001:0:0:1:0:0:0:1'), '2001:0:0:1::1'); // longest run wins
    assert.equal(round6('0:0:0:0:0:0:0:0'), '::');
    assert.equal(round6('0:0:0:0:0:0:0:1'), '::1');
    assert.equal(round6('1:0:0:0:0:0:0:0'), '1::');
    assert.equal(round6('::ffff:c000:0201'), '::ffff:192.0.2.1');
    assert.equal(round6('fe80::abcd:ef01'), 'fe80::abcd:ef01');
  });

  it('round-trips random IPv6 addresses through text', () => {
    let seed = 12345;
    const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16) & 0xff;
    for (let n = 0; n < 500; n++) {
      const b = new Uint8Array(16);
      // Many zero bytes, so that runs of zero groups are common.
      for (let k = 0; k < 16; k++) b[k] = rnd() < 128 ? 0 : rnd();
      assert.deepEqual(parseIPv6(formatIPv6(b)), b);
    }
  });

  it('parses prefixes and refuses host bits unless asked not to', () => {
    const p = parsePrefix('198.51.100.0/24');
    assert.equal(p.family, 4);
    assert.equal(p.len, 24);
    assert.equal(formatPrefix(p), '198.51.100.0/24');
    assert.equal(parsePrefix('2001:db8::/32').len, 32);
    assert.equal(parsePrefix('192.0.2.7').len, 32);
    assert.throws(() => parsePrefix('192.0.2.1/24'), /host bits set \(network is 192\.0\.2\.0\/24\)/);
    assert.equal(formatPrefix(parsePrefix('192.0.2.1/24', { strict: false })), '192.0.2.0/24');
    assert.throws(() => parsePrefix('192.0.2.0/33'), /must be 0-32/);
    assert.throws(() => parsePrefix('2001:db8::/129'), /must be 0-128/);
    assert.equal(formatPrefix(parsePrefix('2001:db8:ff::/39', { strict: false })), '2001:db8::/39');
  });

  it('matches addresses against prefixes bit-exactly', () => {
    const net = parsePrefix('192.0.2.128/25');
    assert.ok(addressInPrefix(parseIPv4('192.0.2.200'), 0, 4, net));
    assert.ok(!addressInPrefix(parseIPv4('192.0.2.127'), 0, 4, net));
    assert.ok(!addressInPrefix(parseIPv6('::1'), 0, 16, net));
    assert.ok(addressInPrefix(parseIPv4('8.8.8.8'), 0, 4, parsePrefix('0.0.0.0/0')));
    const v6 = parsePrefix('2001:db8:8000::/33');
    assert.ok(addressInPrefix(parseIPv6('2001:db8:8000::5'), 0, 16, v6));
    assert.ok(!addressInPrefix(parseIPv6('2001:db8:7fff::5'), 0, 16, v6));
    const buf = new Uint8Array(20);
    buf.set(parseIPv4('10.1.2.3'), 7);
    assert.ok(prefixMatch(buf, 7, parseIPv4('10.1.0.0'), 0, 16));
    assert.ok(!prefixMatch(buf, 7, parseIPv4('10.1.0.0'), 0, 23));
    assert.ok(addrEqual(buf, 7, parseIPv4('10.1.2.3'), 0, 4));
  });

  it('tells families apart in parseAddress', () => {
    assert.equal(parseAddress('2001:db8::1').family, 6);
    assert.equal(parseAddress('192.0.2.1').family, 4);
  });
});
