import assert from 'node:assert/strict';
import { buildTcp, parseBuilt } from '../../packet/build.js';
import { RulesetEngine } from '../../ruleset/index.js';
import { COUNTER_NAMES } from '../shared/counters.js';
import { FilterStage } from './filter-stage.js';
import { RouteInterfaces } from './route-interfaces.js';

describe('FilterStage: rt mtu from the node\'s routes', () => {
  it('clamps a forwarded SYN\'s MSS to the MTU of its routes (the smaller of the way out and the way back)', () => {
    const engine = new RulesetEngine();
    engine.load(`table inet f { chain post { type filter hook postrouting priority 0; policy accept;
      tcp flags syn tcp option maxseg size set rt mtu
    } }`);
    const routes = new RouteInterfaces();
    routes.load([
      { family: 4, prefix: Uint8Array.of(192, 0, 2, 0), len: 24, ifId: engine.ifnames.idOf('lan'), mtu: 1500 },
      { family: 4, prefix: Uint8Array.of(0, 0, 0, 0), len: 0, ifId: engine.ifnames.idOf('wan'), mtu: 1492 },
      { family: 6, prefix: Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, 0, 1, ...new Array<number>(10).fill(0)), len: 48, ifId: engine.ifnames.idOf('lan'), mtu: 1500 },
      { family: 6, prefix: new Uint8Array(16), len: 0, ifId: engine.ifnames.idOf('wan'), mtu: 1480 },
    ]);
    const stage = new FilterStage(engine, undefined, routes, new Float64Array(COUNTER_NAMES.length));
    const syn = (src: string, dst: string, mss: number) => buildTcp({ src, dst, sport: 40000, dport: 443, flags: 'S', mss });
    const v4 = parseBuilt(syn('192.0.2.100', '198.51.100.100', 1460));
    stage.process(v4, 1);
    assert.deepEqual(v4.buf, syn('192.0.2.100', '198.51.100.100', 1452), 'PPPoE uplink: 1492 - 40');
    const v6 = parseBuilt(syn('2001:db8:1::100', '2001:db8:9::100', 1440));
    stage.process(v6, 2);
    assert.deepEqual(v6.buf, syn('2001:db8:1::100', '2001:db8:9::100', 1420), '1480 - 60');
  });
});
