import assert from 'node:assert/strict';
import { parseMac } from './garp.js';
import { ip, IpBytes } from './ip-address.js';
import { ManualClock } from './ports.js';
import { parseVip, Vip, VipMover } from './vip-group.js';
import { encode } from './vrrp-packet.js';
import { VrrpInstance } from './vrrp-instance.js';
import { VrrpGroups, type VrrpGroupRef } from './vrrp-groups.js';

const flush = () => new Promise<void>((r) => setImmediate(r));

const GROUP_VIPS: Record<string, Vip[]> = {
  a: [parseVip('lan', '192.0.2.1/24')!, parseVip('wan', '198.51.100.1/24')!],
  b: [parseVip('lan', '192.0.2.254/24')!, parseVip('wan', '198.51.100.254/24')!],
};
const VRID: Record<string, number> = { a: 51, b: 52 };

interface Node {
  groups: VrrpGroups;
  held: Set<string>;
  alive: boolean;
  events: { group: VrrpGroupRef; to: string }[];
}

/**
 * Nodes on one simulated segment, each with groups a and b on ONE socket: every
 * advertisement reaches every other node's VrrpGroups, which hands it to the group of its VRID.
 */
function cluster(clock: ManualClock, priorities: Record<string, number>[]): Node[] {
  const nodes: Node[] = [];
  priorities.forEach((prio, i) => {
    const primary = ip(`192.0.2.${2 + i}`);
    const node = { held: new Set<string>(), alive: true, events: [] } as unknown as Node;
    const mover: VipMover = { add: async (v) => void node.held.add(v.cidr), remove: async (v) => void node.held.delete(v.cidr) };
    const send = (payload: Uint8Array, dst: IpBytes): void => {
      if (!node.alive) return;
      const bytes = Uint8Array.from(payload);
      for (const other of nodes) {
        if (other !== node) clock.setTimer(clock.now() + 0.1, () => other.alive && other.groups.receive(bytes, { src: primary, dst, ttl: 255 }));
      }
    };
    const instances = Object.keys(prio).map((g) => new VrrpInstance(
      { name: g, family: 4, vrid: VRID[g]!, priority: prio[g]!, advertIntervalCs: 10, primaryAddress: primary, vips: GROUP_VIPS[g]!, announce: { repeat: 1 } },
      { clock, vipMover: mover, macOf: () => parseMac(`02:00:00:00:0${i}:01`), frames: { sendFrame: () => undefined }, packets: { sendAdvert: send } },
    ));
    node.groups = new VrrpGroups(instances);
    node.groups.on((e, group) => {
      if (e.type === 'state') node.events.push({ group, to: e.to });
    });
    nodes.push(node);
  });
  return nodes;
}

async function run(clock: ManualClock, ms: number, step = 5): Promise<void> {
  const end = clock.now() + ms;
  while (clock.now() < end) {
    clock.advanceTo(Math.min(end, clock.now() + step));
    await flush();
  }
}

describe('vrrp-groups (several VRRP groups on one node and one link)', () => {
  it('active/active: group a is master on one node and group b on the other, each holding only its own VIPs', async () => {
    const clock = new ManualClock();
    const [x, y] = cluster(clock, [{ a: 200, b: 100 }, { a: 100, b: 200 }]);
    x!.groups.start();
    y!.groups.start();
    await run(clock, 1_000);
    assert.deepEqual(x!.groups.states().map((s) => [s.name, s.state]), [['a', 'master'], ['b', 'backup']]);
    assert.deepEqual(y!.groups.states().map((s) => [s.name, s.state]), [['a', 'backup'], ['b', 'master']]);
    assert.deepEqual(x!.groups.mastered(), [51]);
    assert.deepEqual(y!.groups.mastered(), [52]);
    assert.deepEqual([...x!.held].sort(), ['192.0.2.1/24', '198.51.100.1/24']);
    assert.deepEqual([...y!.held].sort(), ['192.0.2.254/24', '198.51.100.254/24']);
    // Each advertisement went to its own group only: none was rejected as another VRID's.
    for (const n of [x!, y!]) for (const i of n.groups.instances) assert.equal(i.counters.advertsRejected, 0, `${i.cfg.name} rejected none`);
    for (const n of [x!, y!]) for (const i of n.groups.instances) assert.ok(i.counters.advertsReceived > 0 || i.state === 'master');
  });

  it('when a node dies the survivor takes its groups and holds every VIP; events name the group', async () => {
    const clock = new ManualClock();
    const [x, y] = cluster(clock, [{ a: 200, b: 100 }, { a: 100, b: 200 }]);
    x!.groups.start();
    y!.groups.start();
    await run(clock, 1_000);
    y!.events.length = 0;
    x!.alive = false;
    await run(clock, 1_000, 1);
    assert.deepEqual(y!.groups.mastered(), [51, 52]);
    assert.equal(y!.held.size, 4);
    // Only group a changed on y: b was master all along.
    assert.deepEqual(y!.events.map((e) => [e.group.name, e.group.vrid, e.to]), [['a', 51, 'master']]);
  });

  it('a node that masters several groups gives back only the one a returning node preempts', async () => {
    const clock = new ManualClock();
    const [x, y] = cluster(clock, [{ a: 200, b: 100 }, { a: 100, b: 200 }]);
    y!.groups.start();
    await run(clock, 1_000);
    assert.deepEqual(y!.groups.mastered(), [51, 52]);
    x!.groups.start();
    await run(clock, 1_000);
    assert.deepEqual(x!.groups.mastered(), [51]);
    assert.deepEqual(y!.groups.mastered(), [52]);
    assert.deepEqual([...y!.held].sort(), ['192.0.2.254/24', '198.51.100.254/24']);
  });

  it('an advertisement of a VRID that is none of the groups is counted and reaches no instance; a short one likewise', () => {
    const clock = new ManualClock();
    const [x] = cluster(clock, [{ a: 200, b: 100 }]);
    const payload = encode({ family: 4, vrid: 77, priority: 100, maxAdverIntervalCs: 10, addresses: [ip('192.0.2.77')] }, { src: ip('192.0.2.9'), dst: ip('224.0.0.18') });
    x!.groups.receive(payload, { src: ip('192.0.2.9'), dst: ip('224.0.0.18'), ttl: 255 });
    x!.groups.receive(payload.subarray(0, 1), { src: ip('192.0.2.9'), dst: ip('224.0.0.18'), ttl: 255 });
    x!.groups.receiveIpv4(new Uint8Array([0x45, 0, 0]), 3);
    assert.deepEqual(x!.groups.counters, { otherVrid: 1, short: 2 });
    for (const i of x!.groups.instances) assert.equal(i.counters.advertsRejected + i.counters.advertsReceived, 0);
  });

  it('refuses two groups with one VRID', () => {
    const clock = new ManualClock();
    const mk = (name: string) => new VrrpInstance(
      { name, family: 4, vrid: 5, priority: 100, advertIntervalCs: 10, primaryAddress: ip('192.0.2.2'), vips: GROUP_VIPS.a! },
      { clock, vipMover: { add: async () => undefined, remove: async () => undefined }, macOf: () => parseMac('02:00:00:00:00:01'), frames: { sendFrame: () => undefined }, packets: { sendAdvert: () => undefined } },
    );
    assert.throws(() => new VrrpGroups([mk('p'), mk('q')]), /vrid 5 twice \(p, q\)/);
  });
});
