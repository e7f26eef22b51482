/**
 * Per-interface input devices (datapath.inputDevices per-interface): each batch carries the
 * interface its device serves, so `iifname` and the reverse-path `fib saddr . iif oif` see
 * the real input interface, not the one the route back to the source suggests.
 */
import assert from 'node:assert/strict';
import { buildUdp, parseBuilt } from '../../packet/build.js';
import { formatAddress } from '../../packet/address.js';
import { RulesetEngine } from '../../ruleset/index.js';
import type { PlainRoute } from '../shared/messages.js';
import { buildMemoryDatapath, type MemoryDatapath } from './memory-datapath.js';

const ROUTES: PlainRoute[] = [
  { family: 4, prefix: [192, 0, 2, 0], len: 24, ifname: 'lan' },
  { family: 4, prefix: [198, 51, 100, 0], len: 24, ifname: 'wan' },
  { family: 4, prefix: [0, 0, 0, 0], len: 0, ifname: 'wan' },
  { family: 6, prefix: [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], len: 64, ifname: 'lan' },
  { family: 6, prefix: [0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], len: 64, ifname: 'wan' },
  { family: 6, prefix: new Array<number>(16).fill(0), len: 0, ifname: 'wan' },
];

const RULESET = `table inet filter {
  chain fw {
    type filter hook forward priority 0; policy accept;
    udp dport 7001 fib saddr . iif oif missing drop
    udp dport 7002 iifname "lan" drop
  }
}`;

const INPUTS = [
  { tun: 'hafw0-lan', ifname: 'lan' },
  { tun: 'hafw0-wan', ifname: 'wan' },
];
/** Sources of the memory device: 0 the shared device, then the inputs in order. */
const SHARED = 0;
const LAN = 1;
const WAN = 2;

const FAMILIES = [
  { name: 'IPv4', lanHost: '192.0.2.100', spoofed: '192.0.2.50', remote: '198.51.100.100', far: '203.0.113.9' },
  { name: 'IPv6', lanHost: '2001:db8:1::100', spoofed: '2001:db8:1::50', remote: '2001:db8:2::100', far: '2001:db8:9::9' },
];

const udp = (src: string, dst: string, dport: number): Uint8Array => buildUdp({ src, dst, sport: 40000, dport, payload: 16, vnet: true });

/** Sends each packet by its source and returns which ones came out (by source address and port). */
async function through(b: MemoryDatapath, packets: [bytes: Uint8Array, source: number][]): Promise<string[]> {
  b.dev.outbound.length = 0;
  for (const [p, source] of packets) b.dev.send(p, source);
  await b.dev.idle();
  return b.dev.outbound.map((o) => {
    const p = parseBuilt(o, 10);
    return `${formatAddress(p.buf, p.srcOff, p.addrLen)}:${p.dport}`;
  });
}

describe('per-interface input devices: the datapath knows the real input interface', () => {
  let b: MemoryDatapath;
  beforeEach(async () => {
    b = await buildMemoryDatapath(ROUTES, { inputDevices: INPUTS });
    const r = b.ask({ type: 'ruleset-load', id: 1, text: RULESET }) as { ok: boolean; error?: string };
    assert.equal(r.ok, true, r.error);
  });
  afterEach(() => b.dp.handle({ type: 'stop' }));

  for (const f of FAMILIES) {
    it(`${f.name}: fib saddr . iif oif missing drops a LAN source arriving on the WAN, passes the legitimate ones`, async () => {
      const out = await through(b, [
        [udp(f.spoofed, f.remote, 7001), WAN],
        [udp(f.lanHost, f.remote, 7001), LAN],
        [udp(f.remote, f.lanHost, 7001), WAN],
        [udp(f.far, f.lanHost, 7001), WAN],
      ]);
      assert.deepEqual(out, [`${f.lanHost}:7001`, `${f.remote}:7001`, `${f.far}:7001`]);
    });

    it(`${f.name}: iifname matches the device's interface, where the route back to the source says another`, async () => {
      const out = await through(b, [
        // From a LAN address but in by the WAN: not "lan", so not dropped.
        [udp(f.spoofed, f.remote, 7002), WAN],
        // Really from the LAN: dropped.
        [udp(f.lanHost, f.remote, 7002), LAN],
        // The shared device tells nothing: the route back to the source decides (lan).
        [udp(f.spoofed, f.remote, 7002), SHARED],
      ]);
      assert.deepEqual(out, [`${f.spoofed}:7002`]);
    });
  }
});

describe('the shared input device: the reverse-path check is refused with the reason', () => {
  it('the node engine in shared mode refuses fib saddr . iif oif and says how to get it; per-interface (the default) accepts it', () => {
    assert.throws(() => new RulesetEngine({ inputInterfaces: 'inferred' }).load(RULESET), /fib saddr \. iif is not supported here: with datapath\.inputDevices: shared .* Set datapath\.inputDevices: per-interface/);
    assert.doesNotThrow(() => new RulesetEngine().load(RULESET));
    // What stays supported in shared mode.
    assert.doesNotThrow(() => new RulesetEngine({ inputInterfaces: 'inferred' }).load('table ip t { chain c { type filter hook prerouting priority 0; fib saddr oif missing drop; fib daddr . iif type local accept; } }'));
  });

  it('a datapath without per-interface devices refuses it too (its engine infers the interface)', async () => {
    const b = await buildMemoryDatapath(ROUTES);
    try {
      const r = b.ask({ type: 'ruleset-load', id: 1, text: RULESET }) as { ok: boolean; error?: string };
      assert.equal(r.ok, false);
      assert.match(r.error!, /inputDevices: shared/);
    } finally {
      b.dp.handle({ type: 'stop' });
    }
  });
});
