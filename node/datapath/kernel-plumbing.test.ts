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
  it('puts keep-local rules just before the steering rules and the local lookup just after them', () => {
    assert.deepEqual(rulePriorities(100), { keepLocal: 99, steer: 100, local: 101 });
  });

  it('refuses priorities that leave no room before main or would share priority 0 with the kernel rule', () => {
    assert.throws(() => rulePriorities(1), /rulePriority 1/);
    assert.throws(() => rulePriorities(KERNEL_MAIN_PRIORITY - 1), /must be 2\.\./);
    assert.doesNotThrow(() => rulePriorities(KERNEL_MAIN_PRIORITY - 2));
  });

  it('after setup the priority-0 local rule is gone and every local lookup comes after the steering rule it must not shadow', () => {
    const rules = simulate(localRuleSetupSteps(PLAN), KERNEL_DEFAULT);
    for (const fam of ['-4', '-6']) {
      const mine = rules.filter((r) => r.startsWith(fam + ' '));
      assert.ok(!mine.includes(`${fam} priority 0 lookup local`));
      assert.ok(mine.includes(`${fam} priority 101 lookup local`));
      for (const ifname of PLAN.interfaces) assert.ok(mine.includes(`${fam} iif ${ifname} lookup 100 priority 100`));
      // The only local lookups before the steering rules are the selective ones.
      for (const r of mine.filter((x) => x.includes('lookup local') && prio(x) < 100)) {
        assert.match(r, / (ipproto|to) /, `unselective local lookup before steering: ${r}`);
        assert.equal(prio(r), 99);
      }
    }
  });

  it('keeps VRRP and IPv6 neighbour discovery local on every steered interface, in both families where they exist', () => {
    const rules = simulate(localRuleSetupSteps(PLAN), KERNEL_DEFAULT);
    for (const ifname of PLAN.interfaces) {
      assert.ok(rules.includes(`-4 iif ${ifname} ipproto 112 lookup local priority 99`));
      assert.ok(rules.includes(`-6 iif ${ifname} ipproto 112 lookup local priority 99`));
      assert.ok(rules.includes(`-6 iif ${ifname} ipproto 58 lookup local priority 99`));
      assert.ok(rules.includes(`-6 iif ${ifname} to ff00::/8 lookup local priority 99`));
    }
    // ICMP over IPv4 is NOT kept local: errors about NATed flows (PMTU) and echo replies to
    // masqueraded pings must reach the datapath.
    assert.ok(!rules.some((r) => r.startsWith('-4') && r.includes('ipproto 1 ')));
  });

  it('never leaves a moment without a local lookup: the late rule is added before the priority-0 one is deleted', () => {
    const steps = localRuleSetupSteps(PLAN);
    for (const fam of ['-4', '-6']) {
      const added = steps.findIndex((s) => s.args.join(' ') === `${fam} rule add priority 101 lookup local`);
      const removed = steps.findIndex((s) => s.args.join(' ') === `${fam} rule del priority 0 lookup local`);
      assert.ok(added >= 0 && removed > added, `${fam}: add at ${added}, delete at ${removed}`);
    }
  });

  it('setting up twice (a restarted node) ends with the same rules, each once', () => {
    const once = simulate(localRuleSetupSteps(PLAN), KERNEL_DEFAULT);
    const twice = simulate(localRuleSetupSteps(PLAN), once);
    assert.deepEqual([...twice].sort(), [...once].sort());
  });

  it('teardown restores exactly the kernel default rules', () => {
    const up = simulate(localRuleSetupSteps(PLAN), KERNEL_DEFAULT);
    const down = simulate(localRuleTeardownSteps(PLAN), up);
    assert.deepEqual([...down].sort(), [...KERNEL_DEFAULT].sort());
    assert.ok(localRuleTeardownSteps(PLAN).every((s) => s.quiet), 'teardown never throws');
  });
});
