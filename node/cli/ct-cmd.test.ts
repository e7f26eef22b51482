import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatCtLine, ctParams } from './ct-cmd.js';
import { formatBusEvent } from './monitor-cmd.js';
import { formatClusterInfo, buildClusterInfo } from '../api/cluster-view.js';
import type { NodeStatus } from '../api/server.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.resolve(HERE, '../../../bin/hafw.js');
// Run the CLI of the tree this test was compiled into, not dist/.
const hafw = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, HAFW_DIST: path.resolve(HERE, '../..'), HAFW_RUN_DIR: '/nonexistent-hafw-test' } });

describe('hafw ct, monitor and status output', () => {
  it('prints a connection like conntrack -L, with replicated and id flags', () => {
    const line = formatCtLine({
      id: 12, family: 'ip', proto: 6, zone: 0, tcpState: 'ESTABLISHED', status: ['seen-reply', 'assured', 'replicated'], mark: 0, timeoutSeconds: 431999, replicated: true,
      original: { src: '192.0.2.1', dst: '198.51.100.1', sport: 40000, dport: 80 },
      reply: { src: '198.51.100.1', dst: '192.0.2.1', sport: 80, dport: 40000 },
    });
    assert.equal(line, 'tcp      6  431999 ESTABLISHED src=192.0.2.1 dst=198.51.100.1 sport=40000 dport=80 src=198.51.100.1 dst=192.0.2.1 sport=80 dport=40000 [ASSURED] mark=0 [REPLICATED] id=12');
    const icmp = formatCtLine({
      id: 1, family: 'ip', proto: 1, zone: 3, status: [], mark: 5, timeoutSeconds: 30, replicated: false,
      original: { src: '192.0.2.1', dst: '198.51.100.1', type: 8, code: 0, id: 77 },
      reply: { src: '198.51.100.1', dst: '192.0.2.1', type: 0, code: 0, id: 77 },
    });
    assert.match(icmp, /^icmp +1  30 src=192\.0\.2\.1 dst=198\.51\.100\.1 type=8 code=0 id=77 \[UNREPLIED\] src=.* mark=5 zone=3 id=1$/);
  });

  it('turns options into query parameters and refuses bad ones as usage errors', () => {
    assert.deepEqual(ctParams({ proto: 'tcp', sport: '22', origin: 'local', json: true }, ['proto', 'sport', 'origin', 'dst']), { proto: 'tcp', sport: 22, origin: 'local' });
    assert.throws(() => ctParams({ dport: '70000' }, ['dport']), /--dport must be an integer/);
    assert.throws(() => ctParams({ origin: 'peer' }, ['origin']), /--origin must be local or replicated/);
  });

  it('exits 2 on usage errors and 1 when no node answers', () => {
    assert.equal(hafw('ct').status, 2);
    assert.equal(hafw('ct', 'get', 'abc').status, 2);
    assert.equal(hafw('ct', 'delete').status, 2, 'neither an id nor a tuple');
    const r = hafw('ct', 'get', '5');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no hafw node is running/);
    assert.equal(hafw('drill', '--node', '--hold', '-1').status, 2);
  });

  it('drills across lab nodes: usage errors name the option and exit 2 before any lab is touched', () => {
    const cases: [string[], RegExp][] = [
      [['--mode', 'kill-next', '--fw', 'fwb'], /kill-next kills the master and then the next master: it takes no --fw/],
      [['--mode', 'partition', '--fw', 'fwz'], /--fw must name a lab node \(fwa, fwb or fwc\), got fwz/],
      [['--mode', 'kill-next', '--nodes', '2'], /--mode kill-next needs three nodes/],
      [['--mode', 'partition', '--nodes', '4'], /--nodes must be 2 or 3, got 4/],
      [['--mode', 'resign', '--fw', 'fwb'], /--fw and --nodes go with --mode kill, kill-next or partition/],
      [['--mode', 'partition', '--duration-ms', '3000'], /--duration-ms goes with the pair drill/],
      [['--node', '--fw', 'fwb'], /--fw and --nodes are lab drills/],
      [['--mode', 'split'], /--mode must be kill, resign, link, kill-next or partition, got split/],
    ];
    for (const [args, msg] of cases) {
      const r = hafw('drill', ...args);
      assert.equal(r.status, 2, args.join(' '));
      assert.match(r.stderr, msg);
    }
  });

  it('prints bus events one line each', () => {
    assert.match(formatBusEvent('vrrp', { event: 'state', from: 'backup', to: 'master', reason: 'peerResigned', priority: 100, inSync: true }), /vrrp backup -> master \(peerResigned, priority 100\)$/);
    assert.match(formatBusEvent('drill', { id: 'd1', phase: 'takeover', peer: '10.0.0.2', ms: 31.5 }), /drill d1 takeover peer=10\.0\.0\.2 ms=31\.5$/);
    assert.match(formatBusEvent('sync', { event: 'drop', name: 'auth', increase: 3, total: 5 }), /sync drop auth \+3 \(total 5\)$/);
  });

  it("shows the cluster view: master, VRRP peers and sync peers", () => {
    const s: NodeStatus = {
      node: 'fwb', role: 'backup', pid: 1, uptimeSeconds: 1, datapath: { tun: 't', offloads: true, vnetHdrLen: 0, counters: {}, native: {} },
      vrrp: { state: 'backup', priority: 100, configuredPriority: 100, inSync: true, master: { address: '10.0.0.1', priority: 200 }, counters: {} },
    };
    const c = buildClusterInfo(s, [{ address: '10.0.0.1', priority: 200, lastHeardMs: 12, adverts: 40 }], null);
    assert.deepEqual(c.master, { address: '10.0.0.1', priority: 200, self: false });
    const text = formatClusterInfo(c);
    assert.match(text, /cluster  vrrp backup  priority 100\/100  master 10\.0\.0\.1 \(priority 200\)/);
    assert.match(text, /vrrp peer 10\.0\.0\.1  priority 200  heard 12 ms ago/);
    assert.match(text, /sync off/);
    assert.match(text, /ruleset generation 0  \(distribution off\)/);
  });

  it('shows the ruleset version and hash every node runs, and drift', () => {
    const s: NodeStatus = {
      node: 'fwb', role: 'backup', pid: 1, uptimeSeconds: 1, datapath: { tun: 't', offloads: true, vnetHdrLen: 0, counters: {}, native: {} },
      ruleset: { file: null, generation: 7, tables: 1, chains: 1, rules: 3, sets: 0 },
    };
    const c = buildClusterInfo(s, [], null, {
      version: 4, hash: 'ab'.repeat(32), drift: true, ready: true,
      nodes: [
        { name: 'fwb', nodeId: 2, self: true, version: 4, hash: 'ab'.repeat(32), role: 'backup', ready: true, drift: true, ageMs: 0 },
        { name: 'fwa', nodeId: 1, self: false, version: 4, hash: 'cd'.repeat(32), role: 'master', ready: true, drift: false, ageMs: 310.4 },
      ],
    });
    assert.equal(c.ruleset.generation, 7);
    assert.equal(c.ruleset.nodes[1]!.ageMs, 310);
    const text = formatClusterInfo(c);
    assert.match(text, /ruleset version 4  hash abababababab  DRIFT  current/);
    assert.match(text, /ruleset on fwa: version 4  hash cdcdcdcdcdcd  master  heard 310 ms ago/);
    assert.doesNotMatch(text, /ruleset on fwb/);
  });
});
