import assert from 'node:assert/strict';
import { buildUdp } from '../packet/build.js';
import { CtEventKind, CtStatus } from './index.js';
import { Harness, seg, V4 } from './testing.js';
import { runCtOp, CtQueryError, checkFilter, protoNumber } from './ct-query.js';

function table(): Harness {
  const h = new Harness({ maxEntries: 64 });
  for (const cport of [40000, 40001]) {
    const ends = { ...V4, cport };
    h.send(seg(ends, 'c', 'S', 100, 0));
    h.send(seg(ends, 's', 'SA', 900, 101));
    h.send(seg(ends, 'c', 'A', 101, 901));
  }
  h.send(buildUdp({ src: '192.0.2.7', dst: '198.51.100.53', sport: 5353, dport: 53, payload: 8 }));
  h.send(buildUdp({ src: '2001:db8:1::7', dst: '2001:db8:2::53', sport: 5353, dport: 53, payload: 8 }));
  return h;
}

describe('connection-table queries (GET /v1/ct, hafw ct)', () => {
  it('lists with filters on protocol, family, source, ports and TCP state', () => {
    const h = table();
    assert.equal(runCtOp(h.ct, { op: 'list', filter: {}, limit: 100 }).entries.length, 4);
    const tcp = runCtOp(h.ct, { op: 'list', filter: { proto: 6, state: 'ESTABLISHED' }, limit: 100 }).entries;
    assert.deepEqual(tcp.map((e) => e.original.sport).sort(), [40000, 40001]);
    assert.equal(tcp[0]!.tcpState, 'ESTABLISHED');
    assert.deepEqual(runCtOp(h.ct, { op: 'list', filter: { family: 6 }, limit: 100 }).entries.map((e) => e.original.src), ['2001:db8:1::7']);
    assert.deepEqual(runCtOp(h.ct, { op: 'list', filter: { src: '192.0.2.7', dport: 53 }, limit: 100 }).entries.map((e) => e.proto), [17]);
    assert.equal(runCtOp(h.ct, { op: 'list', filter: { dst: '192.0.2.100' }, limit: 100 }).entries.length, 0, 'dst is the original direction only');
    assert.equal(runCtOp(h.ct, { op: 'list', filter: { origin: 'replicated' }, limit: 100 }).entries.length, 0);
    assert.equal(runCtOp(h.ct, { op: 'list', filter: { origin: 'local' }, limit: 100 }).entries.length, 4);
  });

  it('pages: never more than limit, and `next` resumes after the last id without repeats', () => {
    const h = table();
    const seen: number[] = [];
    let after: number | undefined;
    let pages = 0;
    for (;;) {
      const r = runCtOp(h.ct, { op: 'list', filter: {}, limit: 3, after });
      assert.ok(r.entries.length <= 3);
      seen.push(...r.entries.map((e) => e.id));
      pages++;
      if (r.next === undefined) break;
      after = r.next;
    }
    assert.equal(pages, 2);
    assert.equal(new Set(seen).size, 4);
  });

  it('gets by id and by tuple in either direction; a missing one gives no entry', () => {
    const h = table();
    const fwd = runCtOp(h.ct, { op: 'lookup', tuple: { proto: 6, src: V4.client, dst: V4.server, sport: 40000, dport: 80 } }).entries[0]!;
    const rev = runCtOp(h.ct, { op: 'lookup', tuple: { proto: 6, src: V4.server, dst: V4.client, sport: 80, dport: 40000 } }).entries[0]!;
    assert.equal(fwd.id, rev.id);
    assert.equal(runCtOp(h.ct, { op: 'get', id: fwd.id }).entries[0]!.original.sport, 40000);
    assert.equal(runCtOp(h.ct, { op: 'lookup', tuple: { proto: 6, src: V4.client, dst: V4.server, sport: 1, dport: 80 } }).entries.length, 0);
    assert.equal(runCtOp(h.ct, { op: 'get', id: 63 }).entries.length, 0);
  });

  it('deletes one by tuple with a destroy event (what sync announces to the peer)', () => {
    const h = table();
    h.events.length = 0;
    const r = runCtOp(h.ct, { op: 'delete', tuple: { proto: 6, src: V4.client, dst: V4.server, sport: 40001, dport: 80 } });
    assert.equal(r.deleted, 1);
    assert.equal(r.entries[0]!.original.sport, 40001);
    assert.deepEqual(h.events.map((e) => e.kind), [CtEventKind.Destroy]);
    assert.equal(h.ct.count(), 3);
    assert.equal(runCtOp(h.ct, { op: 'delete', tuple: { proto: 6, src: V4.client, dst: V4.server, sport: 40001, dport: 80 } }).deleted, 0);
  });

  it('flushes only what matches the filter, or everything without one', () => {
    const h = table();
    assert.equal(runCtOp(h.ct, { op: 'flush', filter: { proto: 17 } }).deleted, 2);
    assert.equal(h.ct.count(), 2);
    assert.equal(runCtOp(h.ct, { op: 'flush', filter: {} }).deleted, 2);
    assert.equal(h.ct.count(), 0);
  });

  it('marks replicated entries and filters them by origin', () => {
    const h = table();
    const id = runCtOp(h.ct, { op: 'list', filter: { proto: 17, family: 4 }, limit: 1 }).entries[0]!.id;
    h.ct.setStatusBits(id, CtStatus.Replicated);
    const rep = runCtOp(h.ct, { op: 'list', filter: { origin: 'replicated' }, limit: 10 }).entries;
    assert.deepEqual(rep.map((e) => [e.id, e.replicated]), [[id, true]]);
  });

  it('names the bad field of a filter', () => {
    assert.throws(() => checkFilter({ src: '10.0.0.300' }), (e: CtQueryError) => e.field === 'src');
    assert.throws(() => checkFilter({ state: 'OPEN' }), (e: CtQueryError) => e.field === 'state');
    assert.throws(() => protoNumber('tcpx'), (e: CtQueryError) => e.field === 'proto');
    assert.equal(protoNumber('UDP'), 17);
    assert.equal(protoNumber('47'), 47);
    assert.equal(checkFilter({ state: 'time_wait' }).state, 'TIME_WAIT');
  });
});
