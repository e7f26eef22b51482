import assert from 'node:assert/strict';
import { KERNEL_MAIN_PRIORITY, LOCAL_PROTOCOLS, localRuleSetupSteps, localRuleTeardownSteps, rulePriorities, type IpStep } from './kernel-plumbing.js';

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
