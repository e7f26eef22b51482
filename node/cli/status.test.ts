import assert from 'node:assert/strict';
import type { NodeStatus } from '../api/index.js';
import { COUNTER_NAMES } from '../datapath/shared/counters.js';
import { formatStatus } from './status.js';

function status(counters: Record<string, number>): NodeStatus {
  const all = Object.fromEntries(COUNTER_NAMES.map((k) => [k, counters[k] ?? 0]));
  return { node: 'fwa', role: 'standalone', pid: 1, uptimeSeconds: 5, datapath: { tun: 'hafw0', offloads: true, vnetHdrLen: 10, counters: all } } as unknown as NodeStatus;
}

describe('hafw status text', () => {
  it('shows the version and build commit the node runs on its first line', () => {
    const s = { ...status({}), version: { version: '1.2.3', commit: '0123456789abcdef0123456789abcdef01234567-dirty', node: '20.19.0' } };
    assert.match(formatStatus(s).split('\n')[0]!, /  version 1\.2\.3 \(0123456789ab-dirty\)$/);
  });

  it('shows a line per VRRP group with several groups, and a handoff line once packets were handed over', () => {
    const base = status({});
    const one = { ...base, vrrp: { state: 'master', priority: 200, configuredPriority: 200, inSync: true, counters: {}, groups: [{ name: 'vrid51', vrid: 51, state: 'master', priority: 200, configuredPriority: 200, vips: ['192.0.2.1/24 lan'] }] } };
    assert.doesNotMatch(formatStatus(one), /group/);
    const two = { ...one, vrrp: { ...one.vrrp, groups: [...one.vrrp.groups, { name: 'b', vrid: 52, state: 'backup', priority: 100, configuredPriority: 100, master: { address: '192.0.2.3', priority: 200 }, vips: ['192.0.2.254/24 lan'] }] } };
    const text = formatStatus(two);
    assert.match(text, /^  group vrid51 \(vrid 51\)  master  priority 200\/200  master none heard  vips 192\.0\.2\.1\/24 lan$/m);
    assert.match(text, /^  group b \(vrid 52\)  backup  priority 100\/100  master 192\.0\.2\.3 \(priority 200\)  vips 192\.0\.2\.254\/24 lan$/m);
    assert.doesNotMatch(formatStatus(base), /handoff/);
    assert.match(formatStatus(status({ handoff_sent: 3, handoff_received: 1 })), /^  handoff    sent 3  received 1  rejected 0  rate-limited 0  not owner 0  send errors 0$/m);
    assert.match(formatStatus(status({ handoff_rate_limited: 2 })), /^  handoff    .* rate-limited 2 /m);
  });

  it('shows a fragments line only once fragments were seen', () => {
    assert.doesNotMatch(formatStatus(status({ rx_packets: 10 })), /fragments/);
    const text = formatStatus(status({ frag_queued: 30, frag_reassembled: 10, frag_forwarded: 27, frag_discarded: 3, frag_timeouts: 1, frag_held_bytes: 2900 }));
    assert.match(text, /^ {2}fragments {2}30 held {2}10 datagrams {2}27 sent on {2}3 discarded {2}\(timeouts 1 {2}overlaps 0 {2}over limit 0 {2}malformed 0 {2}now 2\.9 kB\)$/m);
  });
});
