import assert from 'node:assert/strict';
import { buildGratuitousArp, buildUnsolicitedNa, formatMac, parseMac, planAnnouncements, virtualRouterMac } from './garp.js';
import { ip } from './ip-address.js';

const mac = parseMac('02:00:5e:10:00:01')!;

function hex(b: Uint8Array, from: number, to: number): string { return Buffer.from(b.subarray(from, to)).toString('hex'); }

/** Independent ICMPv6 checksum check: sum over pseudo-header + message must be 0xffff. */
function icmp6Verifies(frame: Uint8Array): boolean {
  const src = frame.subarray(22, 38);
  const dst = frame.subarray(38, 54);
  const len = (frame[18]! << 8) | frame[19]!;
  const bytes = [...src, ...dst, 0, 0, len >> 8, len & 0xff, 0, 0, 0, 58, ...frame.subarray(54, 54 + len)];
  let s = 0;
  for (let i = 0; i < bytes.length; i += 2) s += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >> 16);
  return s === 0xffff;
}

describe('garp', () => {
  it('builds a broadcast gratuitous ARP request with sender = target = VIP', () => {
    const f = buildGratuitousArp(mac, ip('192.0.2.1'));
    assert.equal(f.length, 60);
    assert.equal(hex(f, 0, 14), 'ffffffffffff' + '02005e100001' + '0806');
    // htype 1, ptype 0800, hlen 6, plen 4, oper 1 (request)
    assert.equal(hex(f, 14, 22), '0001080006040001');
    assert.equal(hex(f, 22, 28), '02005e100001');
    assert.equal(hex(f, 28, 32), 'c0000201');
    assert.equal(hex(f, 32, 38), '000000000000');
    assert.equal(hex(f, 38, 42), 'c0000201');
    assert.ok(f.subarray(42).every((b) => b === 0)); // padding
  });

  it('builds an unsolicited NA to ff02::1 with hop limit 255, R and O set, S clear, and a valid checksum', () => {
    const vip = ip('2001:db8::1');
    const f = buildUnsolicitedNa(mac, vip);
    assert.equal(f.length, 86);
    assert.equal(hex(f, 0, 14), '333300000001' + '02005e100001' + '86dd');
    assert.equal(f[14]! >> 4, 6);
    assert.equal((f[18]! << 8) | f[19]!, 32); // payload length
    assert.equal(f[20], 58); // next header ICMPv6
    assert.equal(f[21], 255); // hop limit
    assert.equal(hex(f, 22, 38), hex(vip, 0, 16)); // source defaults to the VIP
    assert.equal(hex(f, 38, 54), 'ff020000000000000000000000000001');
    assert.equal(f[54], 136);
    assert.equal(f[55], 0);
    assert.equal(f[58], 0xa0); // R | O
    assert.equal(hex(f, 62, 78), hex(vip, 0, 16)); // target
    assert.equal(hex(f, 78, 86), '0201' + '02005e100001'); // target link-layer option
    assert.ok(icmp6Verifies(f));
    const ll = buildUnsolicitedNa(mac, vip, { source: ip('fe80::1'), router: false });
    assert.equal(ll[58], 0x20);
    assert.equal(hex(ll, 22, 38), 'fe800000000000000000000000000001');
    assert.ok(icmp6Verifies(ll));
  });

  it('parses, formats and derives MAC addresses', () => {
    assert.equal(formatMac(mac), '02:00:5e:10:00:01');
    assert.equal(parseMac('02:00:5e:10:00'), undefined);
    assert.equal(parseMac('zz:00:5e:10:00:01'), undefined);
    assert.equal(formatMac(virtualRouterMac(51, 4)), '00:00:5e:00:01:33');
    assert.equal(formatMac(virtualRouterMac(7, 6)), '00:00:5e:00:02:07');
  });

  it('plans every VIP of the group in each round, spaced, reusing one frame per VIP', () => {
    const macs: Record<string, Uint8Array> = { lan: mac, wan: parseMac('02:00:5e:10:00:02')! };
    const { steps, skipped } = planAnnouncements(
      [{ ifname: 'lan', address: ip('192.0.2.1') }, { ifname: 'wan', address: ip('198.51.100.1') },
        { ifname: 'lan', address: ip('2001:db8::1') }, { ifname: 'dmz', address: ip('203.0.113.9') }],
      (n) => macs[n], { repeat: 3, spacingMs: 100 });
    assert.deepEqual(skipped.map((s) => s.ifname), ['dmz']);
    assert.equal(steps.length, 9);
    assert.deepEqual(steps.map((s) => s.atMs), [0, 0, 0, 100, 100, 100, 200, 200, 200]);
    assert.deepEqual(steps.slice(0, 3).map((s) => s.ifname), ['lan', 'wan', 'lan']);
    assert.equal(steps[0]!.frame, steps[3]!.frame); // same buffer each round
    assert.equal(steps[2]!.frame.length, 86);
    assert.equal(hex(steps[1]!.frame, 6, 12), '02005e100002');
  });
});
