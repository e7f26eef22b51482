import assert from 'node:assert/strict';
import { compareIp, formatIp, parseIp } from './ip-address.js';

describe('ip-address', () => {
  it('parses and formats IPv4 and IPv6 (RFC 5952 compression)', () => {
    for (const s of ['192.0.2.1', '0.0.0.0', '255.255.255.255', '2001:db8::1', 'fe80::200:5eff:fe00:101', '::', '::1', '2001:db8:0:1:1:1:1:1', 'ff02::12']) {
      assert.equal(formatIp(parseIp(s)!), s);
    }
    assert.equal(formatIp(parseIp('2001:0db8:0000:0000:0000:0000:0000:0001')!), '2001:db8::1');
    // RFC 5952 §5: an IPv4-mapped address keeps its dotted-quad tail (one formatter with node/).
    assert.equal(formatIp(parseIp('::ffff:192.0.2.1')!), '::ffff:192.0.2.1');
    assert.equal(formatIp(parseIp('2001:db8:0:0:1:0:0:1')!), '2001:db8::1:0:0:1');
  });

  it('drops a zone id from a link-local IPv6 address (the wire form has none)', () => {
    assert.equal(formatIp(parseIp('fe80::1%eth0')!), 'fe80::1');
  });

  it('rejects malformed text', () => {
    for (const s of ['192.0.2', '192.0.2.256', '01.2.3.4', '1::2::3', '12345::', '1:2:3:4:5:6:7:8:9', 'g::1', '', '1.2.3.4.5']) {
      assert.equal(parseIp(s), undefined, s);
    }
  });

  it('compares addresses as unsigned big-endian integers', () => {
    assert.ok(compareIp(parseIp('192.0.2.3')!, parseIp('192.0.2.2')!) > 0);
    assert.ok(compareIp(parseIp('10.0.0.200')!, parseIp('192.0.2.2')!) < 0);
    assert.equal(compareIp(parseIp('fe80::1')!, parseIp('fe80::1')!), 0);
  });
});
