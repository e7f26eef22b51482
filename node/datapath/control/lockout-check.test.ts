import assert from 'node:assert/strict';
import { RulesetEngine } from '../../ruleset/index.js';
import { lockoutWarnings, type LockoutProbe } from './lockout-check.js';
import type { PlainAddress } from '../shared/messages.js';

const ADDRS: PlainAddress[] = [
  { ifname: 'lan', family: 4, bytes: [192, 0, 2, 2], vip: false },
  { ifname: 'lan', family: 6, bytes: [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], vip: false },
  { ifname: 'mgmt', family: 4, bytes: [203, 0, 113, 10], vip: false },
];

function check(ruleset: string, over: Partial<LockoutProbe> = {}): string[] {
  const e = new RulesetEngine();
  e.load(ruleset);
  return lockoutWarnings(e, { listen: { host: '0.0.0.0', port: 9470 }, sources: ['192.0.2.0/24', '2001:db8:1::/64'], addresses: ADDRS, interfaces: ['lan', 'wan'], ...over });
}

const CLOSED = `table inet f { chain in { type filter hook input priority 0; policy drop; ct state established accept; tcp dport 22 accept } }`;
const OPEN = `table inet f { chain in { type filter hook input priority 0; policy drop; ct state established accept; tcp dport { 22, 9470 } accept } }`;

describe('lock-out check: can the management sources still reach the management listener?', () => {
  it('warns per listener address and source when the input chain drops the connection', () => {
    const w = check(CLOSED);
    assert.equal(w.length, 2, w.join('\n'));
    assert.match(w[0]!, /^the management listener 192\.0\.2\.2:9470 would not be reachable from 192\.0\.2\.1: the input chain drops a new connection to it/);
    assert.match(w[1]!, /\[2001:db8:1::2\]:9470 .* from 2001:db8:1::1/);
  });

  it('is quiet when the port is allowed, and when the listener is on an interface that is not protected', () => {
    assert.deepEqual(check(OPEN), []);
    assert.deepEqual(check(CLOSED, { listen: { host: '203.0.113.10', port: 9470 } }), []);
  });

  it('an output chain that drops the node\'s answers locks out as well', () => {
    const w = check(`table inet f { chain out { type filter hook output priority 0; policy drop; udp dport 53 accept } }`, { sources: ['192.0.2.7/32'] });
    assert.equal(w.length, 1);
    assert.match(w[0]!, /from 192\.0\.2\.7: the output chain drops the node's answer/);
  });

  it('without management sources, any client stands in (and says so)', () => {
    const w = check(CLOSED, { sources: [], listen: { host: '192.0.2.2', port: 9470 } });
    assert.equal(w.length, 1);
    assert.match(w[0]!, /from 203\.0\.113\.254 \(any client: no datapath.managementSources set\)/);
  });
});
