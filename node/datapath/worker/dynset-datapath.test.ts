/**
 * Sets the packet path fills, `ct count`, on the datapath thread's own engine (in-process,
 * fake device): the elements exist only there, and its listing (what `hafw ruleset show`
 * and GET /v1/ruleset read) shows them.
 */
import assert from 'node:assert/strict';
import { buildTcp, buildUdp } from '../../packet/build.js';
import { readCounters } from '../shared/counters.js';
import type { PlainRoute } from '../shared/messages.js';
import { buildMemoryDatapath, type MemoryDatapath } from './memory-datapath.js';

const ROUTES: PlainRoute[] = [
  { family: 4, prefix: [10, 0, 0, 0], len: 24, ifname: 'lan', src: [10, 0, 0, 1] },
  { family: 4, prefix: [0, 0, 0, 0], len: 0, ifname: 'wan' },
  { family: 6, prefix: [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], len: 64, ifname: 'lan' },
  { family: 6, prefix: new Array<number>(16).fill(0), len: 0, ifname: 'wan' },
];

const RULESET = `table inet f {
  set flood { type ipv4_addr; flags dynamic,timeout; timeout 1m; }
  set seen6 { type ipv6_addr; size 2; flags dynamic; }
  chain fw { type filter hook forward priority 0; policy accept;
    udp dport 53 update @flood { ip saddr limit rate over 2/second burst 2 packets } drop
    add @seen6 { ip6 saddr counter } accept
    ip6 saddr 2001:db8:1::/64 drop
    tcp dport 80 ct count over 1 drop
  }
}`;

type Built = MemoryDatapath;
const build = (): Promise<Built> => buildMemoryDatapath(ROUTES);

const udp = (src: string, dst: string): Uint8Array => buildUdp({ src, dst, sport: 40000, dport: 53, payload: 16, vnet: true });
const syn = (sport: number): Uint8Array => buildTcp({ src: '10.0.0.5', dst: '203.0.113.9', sport, dport: 80, flags: 'S', vnet: true });

describe('buildDatapath in-process: sets filled from the packet path and ct count', () => {
  let b: Built;
  beforeEach(async () => {
    b = await build();
    assert.equal((b.ask({ type: 'ruleset-load', id: 1, text: RULESET }) as { ok: boolean }).ok, true);
  });
  afterEach(() => b.dp.handle({ type: 'stop' }));

  const list = (id: number): string => (b.ask({ type: 'ruleset-list', id, format: 'nft', handles: false }) as { text: string }).text;

  it('per-source limits in a dynamic set drop the excess; the elements are listed from the datapath\'s copy and survive a transaction', async () => {
    for (let i = 0; i < 4; i++) b.dev.send(udp('10.0.0.5', '203.0.113.9'));
    b.dev.send(udp('10.0.0.6', '203.0.113.9'));
    await b.dev.idle();
    // Two of 10.0.0.5's four go (burst 2), and 10.0.0.6's one: its own bucket.
    assert.equal(b.dev.outbound.length, 3);
    assert.match(list(2), /set flood \{[^}]*elements = \{ 10\.0\.0\.5 limit rate over 2\/second burst 2 packets expires (?:1m|59s\d*m?s?), 10\.0\.0\.6 limit rate over 2\/second burst 2 packets expires (?:1m|59s\d*m?s?) \}/);
    assert.equal((b.ask({ type: 'ruleset-tx', id: 3, ops: 'add rule inet f fw counter' }) as { ok: boolean }).ok, true);
    assert.match(list(4), /10\.0\.0\.5 limit rate over/);
    b.dev.send(udp('10.0.0.5', '203.0.113.9'));
    await b.dev.idle();
    assert.equal(b.dev.outbound.length, 3, 'the bucket kept its state: still over');
  });

  it('IPv6: a full set does not grow and the rule does not match; per-element counters are listed (JSON too)', async () => {
    for (const src of ['2001:db8:1::5', '2001:db8:1::6', '2001:db8:1::7', '2001:db8:1::5']) b.dev.send(udp(src, '2001:db8:99::9'));
    await b.dev.idle();
    // ::5 and ::6 fill the set (size 2) and are accepted; ::7 finds it full and falls to the drop.
    assert.equal(b.dev.outbound.length, 3);
    assert.equal(readCounters(b.data.counters).ruleset_set_full, 1, 'counted (hafw_ruleset_set_full_total)');
    const json = b.ask({ type: 'ruleset-list', id: 2, format: 'json', handles: false }) as { json: { nftables: { set?: { name: string; elem?: unknown[] } }[] } };
    const seen = json.json.nftables.find((o) => o.set?.name === 'seen6')!.set!;
    const byVal = (xs: unknown[]) => [...(xs as { elem: { val: string } }[])].sort((x, y) => x.elem.val.localeCompare(y.elem.val));
    assert.deepEqual(byVal(seen.elem!), [
      { elem: { val: '2001:db8:1::5', counter: { packets: 2, bytes: 2 * 64 } } },
      { elem: { val: '2001:db8:1::6', counter: { packets: 1, bytes: 64 } } },
    ]);
  });

  it('ct count over 1: the second connection to port 80 is dropped, the first keeps flowing', async () => {
    b.dev.send(syn(1001));
    b.dev.send(syn(1002));
    b.dev.send(syn(1001));
    await b.dev.idle();
    assert.equal(b.dev.outbound.length, 2, 'first SYN, the second connection dropped, the first\'s retransmitted SYN');
  });
});
