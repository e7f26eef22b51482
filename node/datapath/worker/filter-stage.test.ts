import assert from 'node:assert/strict';
import { buildUdp } from '../../packet/build.js';
import { Verdict } from './stage.js';
import { CLIENT, REMOTE, rig } from './testing.js';

describe('FilterStage: what conntrack gives the rules', () => {
  it('ct direction: the first packet and the client\'s are original, the server\'s answers reply', () => {
    const r = rig(`table inet f { chain fwd { type filter hook forward priority 0; policy accept;
      ct direction reply udp sport 53 meta mark set 2 counter drop
    } }`);
    const out = buildUdp({ src: CLIENT, dst: REMOTE, sport: 5000, dport: 53 });
    const back = buildUdp({ src: REMOTE, dst: CLIENT, sport: 53, dport: 5000 });
    assert.equal(r.send(out).v, Verdict.Accept);
    assert.equal(r.send(back).v, Verdict.Drop, 'the answer is the reply direction');
    assert.equal(r.send(out).v, Verdict.Accept, 'the client\'s next packet is original again');
    // A packet from the server's port that belongs to no connection is new, so original.
    assert.equal(r.send(buildUdp({ src: REMOTE, dst: CLIENT, sport: 53, dport: 6000 })).v, Verdict.Accept);
  });
});
