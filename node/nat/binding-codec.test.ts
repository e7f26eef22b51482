import assert from 'node:assert/strict';
import { buildTcp, parseBuilt } from '../packet/build.js';
import { IpProto } from '../packet/packet-info.js';
import { NAT_SRC, NatBinding, NatKind, describeBinding, replyTuple } from './binding.js';
import { MAX_BINDING_WIRE_LEN, bindingWireLength, decodeBinding, encodeBinding } from './binding-codec.js';
import { PortAllocator } from './port-allocator.js';
import { InstallResult, installReplicatedBinding } from './replicate.js';
import { natRequest } from './request.js';
import { setupNat } from './setup.js';
import { type NatDirection, applyNat } from './translate.js';
import { NatTuple, tupleEqual } from './tuple.js';

function made(src: string, dst: string, to: string, kind = NatKind.Snat, key = 1): { b: NatBinding; a: PortAllocator } {
  const a = new PortAllocator({ key: [key, key] });
  const b = new NatBinding();
  setupNat(b, natRequest(kind, { to }), parseBuilt(buildTcp({ src, dst, sport: 40000, dport: 80, flags: 'S' })), a);
  return { b, a };
}

describe('nat binding replication', () => {
  it('round-trips IPv4 and IPv6 bindings through their wire form', () => {
    const cases = [
      made('192.0.2.100', '198.51.100.100', '198.51.100.2:20000-20099').b,
      made('2001:db8::100', '2001:db8:1::100', '[2001:db8:1::2]:20000-20099').b,
      made('198.51.100.100', '198.51.100.1', '192.0.2.10:8080', NatKind.Dnat).b,
    ];
    for (const b of cases) {
      const buf = new Uint8Array(MAX_BINDING_WIRE_LEN + 3);
      const len = encodeBinding(b, buf, 3);
      assert.equal(len, bindingWireLength(b.family as 4 | 6));
      const out = new NatBinding();
      assert.equal(decodeBinding(buf, 3, len, out), len);
      assert.equal(describeBinding(out), describeBinding(b));
      assert.ok(tupleEqual(replyTuple(out, new NatTuple()), replyTuple(b, new NatTuple())));
      assert.equal(out.pool, null);
    }
  });

  it('refuses records that are truncated or inconsistent', () => {
    const { b } = made('192.0.2.100', '198.51.100.100', '198.51.100.2');
    const buf = new Uint8Array(64);
    const len = encodeBinding(b, buf, 0);
    const out = new NatBinding();
    assert.throws(() => decodeBinding(buf, 0, len - 1, out), /truncated/);
    const bad = buf.slice();
    bad[0] = 5;
    assert.throws(() => decodeBinding(bad, 0, len, out), /bad family/);
    const kinds = buf.slice();
    kinds[3] = (NatKind.Dnat << 4) | NatKind.None; // a source manip cannot be a DNAT
    assert.throws(() => decodeBinding(kinds, 0, len, out), /do not match/);
    assert.equal(encodeBinding(b, new Uint8Array(10), 0), 0, 'does not write past the buffer');
    assert.equal(encodeBinding(new NatBinding(), buf, 0), 0, 'an empty binding is not encoded');
  });

  it('the standby translates a replicated connection exactly as the active did', () => {
    const active = made('192.0.2.100', '198.51.100.100', '198.51.100.2', NatKind.Snat, 3);
    // Another client took 40000 first on the active, so this one got a different port.
    const tcpB = new NatBinding();
    setupNat(tcpB, natRequest(NatKind.Snat, { to: '198.51.100.2' }), parseBuilt(buildTcp({ src: '192.0.2.101', dst: '198.51.100.100', sport: 40000, dport: 80 })), active.a);
    assert.notEqual(tcpB.natSport, 40000);
    const wire = new Uint8Array(MAX_BINDING_WIRE_LEN);
    const len = encodeBinding(tcpB, wire, 0);
    const standby = new PortAllocator({ key: [99, 99] });
    const copy = new NatBinding();
    decodeBinding(wire, 0, len, copy);
    assert.equal(installReplicatedBinding(copy, standby), InstallResult.Ok);
    assert.ok(copy.pool !== null && copy.pool.isTaken(tcpB.natSport));
    const seg = (src: string, dst: string, sport: number, dport: number): Uint8Array => buildTcp({ src, dst, sport, dport, payload: 20, seq: 7 });
    const run = (x: NatBinding, bytes: Uint8Array, dir: NatDirection): Uint8Array => {
      const c = bytes.slice();
      applyNat(parseBuilt(c), x, dir);
      return c;
    };
    const out = seg('192.0.2.101', '198.51.100.100', 40000, 80);
    assert.deepEqual(run(copy, out, 'original'), run(tcpB, out, 'original'));
    const back = seg('198.51.100.100', '198.51.100.2', 80, tcpB.natSport);
    assert.deepEqual(run(copy, back, 'reply'), seg('198.51.100.100', '192.0.2.101', 80, 40000));
    // After takeover, a new connection on the standby cannot get the replicated port.
    const fresh = new NatBinding();
    setupNat(fresh, natRequest(NatKind.Snat, { to: `198.51.100.2:${tcpB.natSport}-${tcpB.natSport + 1}` }), parseBuilt(seg('192.0.2.102', '198.51.100.100', tcpB.natSport, 80)), standby);
    assert.equal(fresh.natSport, tcpB.natSport + 1);
  });

  it('reports a port conflict on install and does not release a port it does not hold', () => {
    const { b } = made('192.0.2.100', '198.51.100.100', '198.51.100.2');
    const standby = new PortAllocator({ key: [7, 7] });
    const pool = standby.pool(4, b.addrs.subarray(NAT_SRC), 0, IpProto.Tcp);
    pool.take(b.natSport);
    const copy = new NatBinding();
    const wire = new Uint8Array(MAX_BINDING_WIRE_LEN);
    decodeBinding(wire, 0, encodeBinding(b, wire, 0), copy);
    assert.equal(installReplicatedBinding(copy, standby), InstallResult.PortConflict);
    assert.equal(standby.stats.reserveConflicts, 1);
    standby.releaseBinding(copy);
    assert.ok(pool.isTaken(b.natSport), 'the local holder keeps its port');
  });

  it('installs a DNAT-only binding without touching any pool', () => {
    const { b } = made('198.51.100.100', '198.51.100.1', '192.0.2.10:8080', NatKind.Dnat);
    const standby = new PortAllocator({ key: [8, 8] });
    assert.equal(installReplicatedBinding(b, standby), InstallResult.Ok);
    assert.equal(standby.poolCount, 0);
  });
});
