import assert from 'node:assert/strict';
import { KERNEL_MAIN_PRIORITY, LOCAL_PROTOCOLS, inputDeviceNames, inputTable, leftoverRuleSteps, leftoverTables, localRuleSetupSteps, localRuleTeardownSteps, planDevices, rulePriorities, type IpStep } from './kernel-plumbing.js';

const PLAN = { interfaces: ['lan', 'wan'], table: 100, rulePriority: 100 };

/** The rules present after running `steps` on a table holding only the kernel's defaults. */
function simulate(steps: IpStep[], start: string[]): string[] {
  const rules = [...start];
  for (const s of steps) {
    const [fam, obj, verb, ...rest] = s.args;
    assert.equal(obj, 'rule');
    const key = `${fam} ${rest.join(' ')}`;
    const at = rules.indexOf(key);
    if (verb === 'del') {
      if (at >= 0) rules.splice(at, 1);
      else assert.ok(s.quiet, `a delete of a missing rule must be quiet: ${key}`);
    } else {
      assert.equal(verb, 'add');
      assert.equal(at, -1, `added twice: ${key}`);
      rules.push(key);
    }
  }
  return rules;
}

const KERNEL_DEFAULT = ['-4 priority 0 lookup local', '-6 priority 0 lookup local'];

/** Priority of a simulated rule (the number after `priority`). */
const prio = (rule: string): number => Number(rule.split(' ')[rule.split(' ').indexOf('priority') + 1]);

describe('kernel plumbing: the input and output hooks around the local table', () => {
  it('takes the five priorities below rulePriority and the two above', () => {
    assert.deepEqual(rulePriorities(100), { keepLocal: 95, antiSpoof: 96, steerIn: 97, fallback: 98, closedIn: 99, local: 100, steer: 101, closed: 102 });
  });

  it('refuses priorities that leave no room around the local rule or reach main', () => {
    assert.throws(() => rulePriorities(5), /rulePriority 5/);
    assert.throws(() => rulePriorities(KERNEL_MAIN_PRIORITY - 2), /must be 6\.\./);
    assert.doesNotThrow(() => rulePriorities(KERNEL_MAIN_PRIORITY - 3));
  });

  it('after setup the priority-0 local rule is gone; before local only the listed protocols go to the TUN device (never ARP, ICMPv6 or VRRP)', () => {
    const rules = simulate(localRuleSetupSteps(PLAN), KERNEL_DEFAULT);
    for (const fam of ['-4', '-6'] as const) {
      const mine = rules.filter((r) => r.startsWith(fam + ' '));
      assert.ok(!mine.includes(`${fam} priority 0 lookup local`));
      assert.ok(mine.includes(`${fam} priority 100 lookup local`));
      for (const ifname of PLAN.interfaces) assert.ok(mine.includes(`${fam} iif ${ifname} lookup 100 priority 101`), 'forwarded traffic of any protocol');
      const early = mine.filter((r) => (r.includes('lookup 100') || r.includes('blackhole')) && prio(r) < 100);
      const protos = [...new Set(early.filter((r) => r.includes('iif lan ') && !r.includes(' from ')).map((r) => r.split(' ')[4]))].sort();
      assert.deepEqual(protos, [...LOCAL_PROTOCOLS[fam]].sort());
      // Every rule before local that goes to the TUN table or drops names a protocol: ARP's
      // route lookup (protocol 0) for the node's own address must find local.
      for (const r of early) assert.match(r, / ipproto \d+ /, r);
      assert.ok(!protos.includes('58') && !protos.includes('112'));
    }
  });

  it('the node\'s own output goes to the output table after local, except multicast and link-local, only for the listed protocols', () => {
    const rules = simulate(localRuleSetupSteps(PLAN), KERNEL_DEFAULT);
    assert.ok(rules.includes('-4 iif lo to 224.0.0.0/4 lookup main priority 101'));
    assert.ok(rules.includes('-6 iif lo to fe80::/10 lookup main priority 101'));
    assert.ok(rules.includes('-4 iif lo ipproto 6 lookup 101 priority 102'));
    assert.ok(rules.includes('-6 iif lo ipproto 17 lookup 101 priority 102'));
    assert.ok(!rules.some((r) => r.startsWith('-6 iif lo ipproto 58')));
  });

  it('fails closed with a way in: management sources reach local before the drop rules', () => {
    const rules = simulate(localRuleSetupSteps({ ...PLAN, managementSources: ['192.0.2.0/24', '2001:db8:9::/48'] }), KERNEL_DEFAULT);
    assert.ok(rules.includes('-4 iif lan from 192.0.2.0/24 lookup local priority 98'));
    assert.ok(rules.includes('-6 iif wan from 2001:db8:9::/48 lookup local priority 98'));
    assert.ok(!rules.some((r) => r.startsWith('-4') && r.includes('2001:db8:9::/48')));
    assert.ok(rules.includes('-4 iif lan ipproto 6 priority 99 blackhole'));
    assert.ok(rules.includes('-6 iif wan priority 102 blackhole'));
  });

  it('keeps IPv6 link traffic local: link multicast and link-local first', () => {
    const rules = simulate(localRuleSetupSteps(PLAN), KERNEL_DEFAULT);
    for (const ifname of PLAN.interfaces) {
      assert.ok(rules.includes(`-6 iif ${ifname} to ff00::/8 lookup local priority 95`));
      assert.ok(rules.includes(`-6 iif ${ifname} to fe80::/10 lookup local priority 95`));
    }
  });

  it('never leaves a moment without a local lookup: the moved rule is added before the priority-0 one is deleted', () => {
    const steps = localRuleSetupSteps(PLAN);
    for (const fam of ['-4', '-6']) {
      const added = steps.findIndex((s) => s.args.join(' ') === `${fam} rule add priority 100 lookup local`);
      const removed = steps.findIndex((s) => s.args.join(' ') === `${fam} rule del priority 0 lookup local`);
      const steered = steps.findIndex((s) => s.args.join(' ').startsWith(`${fam} rule add iif lan ipproto`));
      assert.ok(added >= 0 && steered > added && removed > steered, `${fam}: add ${added}, steer ${steered}, delete ${removed}`);
    }
  });

  it('setting up twice (a restarted node) ends with the same rules, each once', () => {
    const once = simulate(localRuleSetupSteps(PLAN), KERNEL_DEFAULT);
    const twice = simulate(localRuleSetupSteps(PLAN), once);
    assert.deepEqual([...twice].sort(), [...once].sort());
  });

  it('teardown restores exactly the kernel default rules and never throws', () => {
    const up = simulate(localRuleSetupSteps(PLAN), KERNEL_DEFAULT);
    const down = simulate(localRuleTeardownSteps(PLAN), up);
    assert.deepEqual([...down].sort(), [...KERNEL_DEFAULT].sort());
    assert.ok(localRuleTeardownSteps(PLAN).every((s) => s.quiet));
  });
});

describe('kernel plumbing: per-interface input devices (datapath.inputDevices)', () => {
  const PER = { ...PLAN, inputDevices: 'per-interface' as const };

  it('names one TUN device per interface, within the 14 characters the addon opens, and refuses collisions', () => {
    assert.deepEqual(inputDeviceNames('hafw0', ['lan', 'wan']), [{ tun: 'hafw0-lan', ifname: 'lan' }, { tun: 'hafw0-wan', ifname: 'wan' }]);
    const long = inputDeviceNames('hafw0', ['enp0s31f6', 'wan']);
    assert.deepEqual(long.map((d) => d.tun), ['hafw0-0', 'hafw0-wan']);
    assert.deepEqual(inputDeviceNames('firewall-tun12', ['lan']).map((d) => d.tun), ['firewall-tun-0']);
    for (const d of inputDeviceNames('abcdefghijklmn', ['a', 'b'])) assert.ok(d.tun.length <= 14, d.tun);
    // `hafw0-0` is also what a long first interface name shortens to.
    assert.throws(() => inputDeviceNames('hafw0', ['enp0s31f6', '0']), /input device name hafw0-0 \(for 0\) is taken/);
    assert.throws(() => inputDeviceNames('x', ['lan', 'lan']), /x-lan \(for lan\) is taken/);
  });

  it('steers each interface by its own table (routeTable + 2 + n), the rest of the layout unchanged; shared keeps one table', () => {
    const per = simulate(localRuleSetupSteps(PER), KERNEL_DEFAULT);
    const shared = simulate(localRuleSetupSteps(PLAN), KERNEL_DEFAULT);
    assert.equal(inputTable(100, 0), 102);
    for (const fam of ['-4', '-6'] as const) {
      assert.ok(per.includes(`${fam} iif lan lookup 102 priority 101`));
      assert.ok(per.includes(`${fam} iif wan lookup 103 priority 101`));
      assert.ok(per.includes(`${fam} iif wan ipproto 6 lookup 103 priority 97`));
      assert.ok(!per.some((r) => r.includes('lookup 100 ')), 'nothing steers by the shared table');
      assert.ok(shared.includes(`${fam} iif wan lookup 100 priority 101`));
      // The node's own output keeps its path (the output table, into the shared device).
      assert.ok(per.includes(`${fam} iif lo ipproto 6 lookup 101 priority 102`));
    }
    // Same rules otherwise, table numbers aside.
    assert.deepEqual(per.map((r) => r.replace(/lookup 10[23] /, 'lookup 100 ')).sort(), [...shared].sort());
    assert.deepEqual(planDevices({ ...PER, tun: 'hafw0' }), [{ tun: 'hafw0', table: 100 }, { tun: 'hafw0-lan', table: 102 }, { tun: 'hafw0-wan', table: 103 }]);
    assert.deepEqual(planDevices({ ...PLAN, tun: 'hafw0' }), [{ tun: 'hafw0', table: 100 }]);
  });

  it('teardown removes every per-interface rule too', () => {
    const up = simulate(localRuleSetupSteps(PER), KERNEL_DEFAULT);
    assert.deepEqual([...simulate(localRuleTeardownSteps(PER), up)].sort(), [...KERNEL_DEFAULT].sort());
  });

  it('finds the rules a crashed run left: a shared-mode run before a per-interface start, and an interface no longer steered', () => {
    const rules = [
      { priority: 0, src: 'all', table: 'local' },
      { priority: 97, iif: 'lan', ipproto: 'tcp', table: '100' }, // shared mode's, now stale
      { priority: 101, iif: 'lan', table: '102' }, // this plan's own
      { priority: 101, iif: 'wan', table: '102' }, // another interface's table
      { priority: 102, iif: 'dmz', action: 'blackhole' }, // dmz is no longer steered
      { priority: 95, iif: 'dmz', table: 'local' },
      { priority: 102, iif: 'lo', ipproto: 'tcp', table: '101' }, // own output: kept
      { priority: 101, iif: 'lan', table: '500' }, // not one of our tables: kept
      { priority: 200, iif: 'lan', table: '100' }, // not at our priorities: kept
      { priority: 32766, table: 'main' },
    ];
    assert.deepEqual(
      leftoverRuleSteps(PER, '-4', rules).map((s) => s.args.join(' ')),
      ['-4 rule del priority 97 iif lan lookup 100', '-4 rule del priority 101 iif wan lookup 102', '-4 rule del priority 102 iif dmz', '-4 rule del priority 95 iif dmz'],
    );
    assert.ok(leftoverRuleSteps(PER, '-4', rules).every((s) => s.quiet));
    // In shared mode the per-interface lookups are the stale ones.
    assert.deepEqual(
      leftoverRuleSteps(PLAN, '-6', rules).map((s) => s.args.join(' ')),
      ['-6 rule del priority 101 iif lan lookup 102', '-6 rule del priority 101 iif wan lookup 102', '-6 rule del priority 102 iif dmz', '-6 rule del priority 95 iif dmz'],
    );
  });

  it('finds the input tables a previous run left by their fail-closed throw route, never an operator\'s table', () => {
    const routes = [
      { type: 'throw', dst: 'default', table: '102', metric: 4294967295 },
      { type: 'throw', dst: 'default', table: '103', metric: 4294967295 },
      { type: 'throw', dst: 'default', table: '104', metric: 4294967295 }, // a third interface's, gone
      { type: 'unicast', dst: 'default', table: '105' }, // the operator's
      { type: 'throw', dst: 'default', table: '106', metric: 10 }, // the operator's
      { type: 'throw', dst: 'default', table: '100', metric: 4294967295 }, // the shared table: kept
    ];
    assert.deepEqual(leftoverTables(PER, routes), [104]);
    assert.deepEqual(leftoverTables(PLAN, routes), [102, 103, 104]);
  });
});
