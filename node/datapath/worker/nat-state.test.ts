import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { NatState } from './nat-state.js';

const v4 = (...b: number[]): Uint8Array => Uint8Array.from(b);
const WAN = 2;
const LAN = 1;

describe('NatState interface addresses (masquerade / redirect source)', () => {
  it('uses the first own address of an interface when it holds no VIP', () => {
    const n = new NatState(16);
    n.setAddresses([
      { ifId: WAN, family: 4, bytes: v4(198, 51, 100, 2) },
      { ifId: WAN, family: 4, bytes: v4(198, 51, 100, 9) },
    ]);
    assert.deepEqual(n.interfaceAddress(WAN, 4), v4(198, 51, 100, 2));
    assert.equal(n.interfaceAddress(WAN, 6), null);
    assert.equal(n.interfaceAddress(LAN, 4), null);
  });

  it('prefers a VIP held on the interface, whichever order the list has, so masquerade follows the master', () => {
    const own = { ifId: WAN, family: 4 as const, bytes: v4(198, 51, 100, 2) };
    const vip = { ifId: WAN, family: 4 as const, bytes: v4(198, 51, 100, 1), vip: true };
    const a = new NatState(16);
    a.setAddresses([own, vip]);
    assert.deepEqual(a.interfaceAddress(WAN, 4), v4(198, 51, 100, 1));
    const b = new NatState(16);
    b.setAddresses([vip, own, { ...vip, bytes: v4(198, 51, 100, 7) }]);
    assert.deepEqual(b.interfaceAddress(WAN, 4), v4(198, 51, 100, 1), 'the first VIP wins');
  });

  it('a VIP on one interface or family does not change another', () => {
    const n = new NatState(16);
    n.setAddresses([
      { ifId: LAN, family: 4, bytes: v4(192, 0, 2, 2) },
      { ifId: WAN, family: 4, bytes: v4(198, 51, 100, 2) },
      { ifId: WAN, family: 6, bytes: new Uint8Array(16).fill(1), vip: true },
    ]);
    assert.deepEqual(n.interfaceAddress(LAN, 4), v4(192, 0, 2, 2));
    assert.deepEqual(n.interfaceAddress(WAN, 4), v4(198, 51, 100, 2));
    assert.deepEqual(n.interfaceAddress(WAN, 6), new Uint8Array(16).fill(1));
  });

  it('after the VIP leaves (node became backup) the next update falls back to the own address', () => {
    const n = new NatState(16);
    const own = { ifId: WAN, family: 4 as const, bytes: v4(198, 51, 100, 3) };
    n.setAddresses([own, { ifId: WAN, family: 4, bytes: v4(198, 51, 100, 1), vip: true }]);
    n.setAddresses([own]);
    assert.deepEqual(n.interfaceAddress(WAN, 4), v4(198, 51, 100, 3));
  });
});

describe('NatState memory', () => {
  it('holds no per-entry array for a large table until entries get bindings', () => {
    // Before: a holey array of `capacity` slots (8 bytes each) was made at construction.
    // Collected before each reading, so garbage freed meanwhile cannot hide what the object holds.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const before = process.memoryUsage().heapUsed;
    const n = new NatState(1 << 20);
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    assert.ok(grown < 2 * 2 ** 20, `${(grown / 2 ** 20).toFixed(1)} MB of heap for a NatState of 1M entries`);
    const b = n.prepare(5);
    assert.equal(n.prepare(5), b, 'a slot keeps its binding object for the next connection');
    assert.equal(n.get(5), null, 'prepared, not active');
    n.activate(5);
    assert.equal(n.get(5), b);
    n.release(5);
    assert.equal(n.get(5), null);
    n.release(70_000); // never prepared: nothing to release
  });
});
