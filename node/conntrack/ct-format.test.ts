import assert from 'node:assert/strict';
import { buildIcmpEcho } from '../packet/build.js';
import { snapshotToJson } from './ct-format.js';
import { CtSnapshot } from './ct-types.js';
import { Harness, seg, V6 } from './testing.js';

describe('snapshotToJson', () => {
  it('lists a TCP/IPv6 entry like conntrack -L', () => {
    const h = new Harness();
    h.send(seg(V6, 'c', 'S', 1, 0));
    const j = snapshotToJson(h.ct.snapshot(h.ct.result.entry, new CtSnapshot(), h.now));
    assert.deepEqual(j.original, { src: '2001:db8:1::100', dst: '2001:db8:2::100', sport: 40000, dport: 443 });
    assert.deepEqual(j.reply, { src: '2001:db8:2::100', dst: '2001:db8:1::100', sport: 443, dport: 40000 });
    assert.equal(j.tcpState, 'SYN_SENT');
    assert.deepEqual(j.status, ['confirmed']);
    assert.equal(j.timeoutSeconds, 120);
  });

  it('shows ICMP type, code and id with the reply type inverted', () => {
    const h = new Harness();
    h.send(buildIcmpEcho({ src: '192.0.2.1', dst: '198.51.100.1', id: 99 }));
    const j = snapshotToJson(h.ct.snapshot(h.ct.result.entry, new CtSnapshot(), h.now));
    assert.deepEqual(j.original, { src: '192.0.2.1', dst: '198.51.100.1', type: 8, code: 0, id: 99 });
    assert.equal(j.reply.type, 0);
  });
});
