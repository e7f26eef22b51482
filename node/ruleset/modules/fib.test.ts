import assert from 'node:assert/strict';
import { engine, roundTrips } from './rule-test-kit.js';
import { RulesetEngine } from '../engine.js';
import { ClassifyContext, Hook, Verdict } from '../context.js';
import { parsePacket } from '../../packet/parse.js';
import { buildUdp } from '../../packet/build.js';
import { parseAddress } from '../../packet/address.js';

/** The node's addresses, as the datapath's LocalAddresses answers for them. */
const NODE = ['198.51.100.2', '2001:db8:1::2'].map((a) => parseAddress(a).bytes);
const localAddrs = {
  has: (buf: Uint8Array, off: number, family: number) => NODE.some((a) => a.length === (family === 4 ? 4 : 16) && a.every((x, i) => buf[off + i] === x)),
};

function drops(rule: string, dst: string, known = true): boolean {
  const e = engine(`${rule} drop`);
  const ctx = new ClassifyContext();
  const pkt = buildUdp({ src: dst.includes(':') ? '2001:db8::1' : '192.0.2.1', dst, sport: 1, dport: 2 });
  parsePacket(ctx.pkt, pkt, 0, pkt.length, 0);
  ctx.localAddrs = known ? localAddrs : null;
  return e.compiled.classify(ctx, Hook.Forward) === Verdict.Drop;
}

function loadError(rule: string): string {
  try {
    new RulesetEngine().load(`table inet t { chain c { type filter hook prerouting priority 0;\n${rule}\n} }`, 'x.nft');
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
}

describe('fib daddr type local|multicast', () => {
  it('IPv4: the node\'s addresses and loopback are local, 224.0.0.0/4 multicast, the rest neither', () => {
    assert.equal(drops('fib daddr type local', '198.51.100.2'), true);
    assert.equal(drops('fib daddr type local', '127.0.0.1'), true);
    assert.equal(drops('fib daddr type local', '198.51.100.3'), false);
    assert.equal(drops('fib daddr type local', '198.51.100.2', false), false, 'no local addresses known: nothing is local but loopback');
    assert.equal(drops('fib daddr type != local', '203.0.113.1'), true);
    assert.equal(drops('fib daddr type != local', '198.51.100.2'), false);
    assert.equal(drops('fib daddr type multicast', '224.0.0.251'), true);
    assert.equal(drops('fib daddr type multicast', '239.255.255.250'), true);
    assert.equal(drops('fib daddr type multicast', '255.255.255.255'), false);
    assert.equal(drops('fib daddr type { local, multicast }', '224.0.0.1'), true);
    assert.equal(drops('fib daddr type { local, multicast }', '203.0.113.1'), false);
  });

  it('IPv6: the node\'s addresses and ::1 are local, ff00::/8 multicast', () => {
    assert.equal(drops('fib daddr type local', '2001:db8:1::2'), true);
    assert.equal(drops('fib daddr type local', '::1'), true);
    assert.equal(drops('fib daddr type local', '2001:db8:1::3'), false);
    assert.equal(drops('fib daddr type multicast', 'ff02::1'), true);
    assert.equal(drops('fib daddr type != multicast', 'ff02::1'), false);
    assert.equal(drops('fib daddr type != multicast', '2001:db8:1::3'), true);
  });

  it('listed and written as nft 1.0.6 lists them', () => {
    const fib = { fib: { result: 'type', flags: ['daddr'] } };
    assert.deepEqual(roundTrips('fib daddr type local accept')[0], { match: { op: '==', left: fib, right: 'local' } });
    assert.deepEqual(roundTrips('fib daddr type != local drop')[0], { match: { op: '!=', left: fib, right: 'local' } });
    assert.deepEqual(roundTrips('fib daddr type { local, multicast } drop')[0], { match: { op: '==', left: fib, right: { set: ['local', 'multicast'] } } });
  });

  it('refuses what the datapath cannot answer exactly (the reverse-path check, broadcast, unicast), with the place and the reason', () => {
    assert.match(loadError('fib saddr . iif oif missing drop'), /^x\.nft:2:1: only 'fib daddr type local\|multicast' is supported: .*TUN.*reverse-path check .*would always pass.*rp_filter/);
    assert.match(loadError('fib daddr oif "lo" accept'), /^x\.nft:2:1: only 'fib daddr type/);
    assert.match(loadError('fib daddr type broadcast drop'), /^x\.nft:2:16: fib daddr type 'broadcast' is not supported: .*subnet broadcast/);
    assert.match(loadError('fib daddr type { multicast, unicast } drop'), /^x\.nft:2:29: fib daddr type 'unicast' is not supported/);
    assert.match(loadError('fib daddr type lokal drop'), /^x\.nft:2:16: 'lokal' is not a fib address type/);
    const json = (left: unknown, right: unknown) => {
      try {
        new RulesetEngine().load({
          nftables: [
            { table: { family: 'inet', name: 't' } },
            { chain: { family: 'inet', table: 't', name: 'c', type: 'filter', hook: 'prerouting', prio: 0 } },
            { rule: { family: 'inet', table: 't', chain: 'c', expr: [{ match: { op: '==', left, right } }, { drop: null }] } },
          ],
        } as never);
      } catch (err) {
        return (err as Error).message;
      }
      return 'accepted';
    };
    assert.match(json({ fib: { result: 'oif', flags: ['saddr', 'iif'] } }, false), /only 'fib daddr type local\|multicast' is supported/);
    assert.match(json({ fib: { result: 'type', flags: ['daddr'] } }, 'broadcast'), /fib daddr type 'broadcast' is not supported/);
    assert.equal(json({ fib: { result: 'type', flags: ['daddr'] } }, 'local'), 'accepted');
  });
});
