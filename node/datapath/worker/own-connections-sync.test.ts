import assert from 'node:assert/strict';
import { buildTcp, buildUdp, parseBuilt } from '../../packet/build.js';
import { parseAddress } from '../../packet/address.js';
import { ConnTracker } from '../../conntrack/index.js';
import { EventRing } from '../../../sync-protocol/index.js';
import { FilterStage } from './filter-stage.js';
import { LocalAddresses } from './local-addresses.js';
import { RouteInterfaces } from './route-interfaces.js';
import { COUNTER_NAMES } from '../shared/counters.js';
import { SyncBridge } from './sync-bridge.js';

describe('state sync: the node\'s own connections stay on the node', () => {
  it('connections to and from the node make no sync events; forwarded ones do', () => {
    let now = 1000;
    const ct = new ConnTracker({ maxEntries: 1024, now: () => now });
    const ring = new EventRing(64);
    const bridge = new SyncBridge(ct, ring);
    ct.onEvent = (kind, entry) => bridge.onEvent(kind, entry);
    const local = new LocalAddresses();
    local.load([{ ifname: 'lan', family: 4, bytes: [...parseAddress('192.0.2.2').bytes], vip: false }]);
    const stage = new FilterStage(undefined, ct, new RouteInterfaces(), new Float64Array(COUNTER_NAMES.length), bridge, undefined, local);
    const send = (p: Uint8Array) => stage.process(parseBuilt(p), ++now);
    send(buildTcp({ src: '192.0.2.100', dst: '192.0.2.2', sport: 40000, dport: 22, flags: 'S', seq: 1 }));
    send(buildUdp({ src: '192.0.2.2', dst: '198.51.100.53', sport: 33000, dport: 53 }));
    assert.equal(ct.count(), 2);
    assert.equal(ring.depth, 0, 'nothing for the peer');
    assert.equal(bridge.dumpLocal().length, 0, 'nor in a rebuild after a ring overflow');
    // Their expiry is not announced either.
    now += 10 * 24 * 3600 * 1000;
    ct.expire(now, 1024);
    assert.equal(ct.count(), 0);
    assert.equal(ring.depth, 0);
    send(buildTcp({ src: '192.0.2.100', dst: '198.51.100.80', sport: 40001, dport: 80, flags: 'S', seq: 1 }));
    assert.equal(ring.depth, 1, 'a forwarded connection is replicated');
    assert.equal(bridge.dumpLocal().length, 1);
  });
});
