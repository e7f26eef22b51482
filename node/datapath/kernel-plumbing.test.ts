import assert from 'node:assert/strict';
import { KERNEL_MAIN_PRIORITY, localRuleSetupSteps, localRuleTeardownSteps, rulePriorities, type IpStep } from './kernel-plumbing.js';

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

describe('kernel plumbing: local table after the steering rules', () => {
  it('takes the three priorities below the steering rules: keep-local, NAT protocols to the TUN device, then local', () => {
    assert.deepEqual(rulePriorities(100), { keepLocal: 97, steerNat: 98, local: 99, steer: 100 });
  });

  it('refuses priorities that leave no room below the steering rules or reach main', () => {
    assert.throws(() => rulePriorities(3), /rulePriority 3/);
    assert.throws(() => rulePriorities(KERNEL_MAIN_PRIORITY), /must be 4\.\./);
    assert.doesNotThrow(() => rulePriorities(KERNEL_MAIN_PRIORITY - 1));
  });

  it('after setup the priority-0 local rule is gone; only TCP, UDP and ICMP(v4) reach the TUN device before local', () => {
    const rules = simulate(localRuleSetupSteps(PLAN), KERNEL_DEFAULT);
    for (const fam of ['-4', '-6']) {
      const mine = rules.filter((r) => r.startsWith(fam + ' '));
      assert.ok(!mine.includes(`${fam} priority 0 lookup local`));
      assert.ok(mine.includes(`${fam} priority 99 lookup local`));
      for (const ifname of PLAN.interfaces) assert.ok(mine.includes(`${fam} iif ${ifname} lookup 100 priority 100`));
      const early = mine.filter((r) => r.includes('lookup 100') && prio(r) < 99);
      const protos = early.filter((r) => r.includes('iif lan')).map((r) => r.split(' ')[4]).sort();
      assert.deepEqual(protos, fam === '-4' ? ['1', '17', '6'] : ['17', '6']);
      // Every rule before local that goes to the TUN table names a protocol: ARP's route
      // lookup (protocol 0) for the node's own address must find local.
      for (const r of early) assert.match(r, / ipproto \d+ /, r);
    }
  });

  it('keeps IPv6 neighbour discovery local: ICMPv6 is not steered early, link multicast and link-local stay local first', () => {
    const rules = simulate(localRuleSetupSteps(PLAN), KERNEL_DEFAULT);
    assert.ok(!rules.some((r) => r.startsWith('-6') && r.includes('ipproto 58')));
    for (const ifname of PLAN.interfaces) {
      assert.ok(rules.includes(`-6 iif ${ifname} to ff00::/8 lookup local priority 97`));
      assert.ok(rules.includes(`-6 iif ${ifname} to fe80::/10 lookup local priority 97`));
    }
  });

  it('never leaves a moment without a local lookup: the moved rule is added before the priority-0 one is deleted', () => {
    const steps = localRuleSetupSteps(PLAN);
    for (const fam of ['-4', '-6']) {
      const added = steps.findIndex((s) => s.args.join(' ') === `${fam} rule add priority 99 lookup local`);
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
