import assert from 'node:assert/strict';
import { RulesetEngine } from '../ruleset/index.js';
import { effectWarnings } from '../datapath/control/effect-warnings.js';
import { RulesetService } from './ruleset-service.js';

describe('ruleset changes on a running node answer with the node\'s warnings', () => {
  function service() {
    const engine = new RulesetEngine();
    const logged: { warning?: string }[] = [];
    const svc = new RulesetService(engine, async () => ({ ok: true }), { info: (o) => logged.push(o), error: () => undefined });
    let calls = 0;
    svc.warningsFor = () => {
      calls++;
      return effectWarnings(engine.ruleset).map((w) => `${w.where}: ${w.message}`);
    };
    return { svc, logged, calls: () => calls };
  }

  it('a replace and a transaction carry them, the log gets them once, element changes reuse them', async () => {
    const { svc, logged, calls } = service();
    const r = await svc.replace('table inet f { set block { type ipv4_addr; } chain in { type filter hook input priority 0; icmpv6 type echo-request accept } }');
    assert.equal(r.warnings.length, 1);
    assert.match(r.warnings[0]!, /ICMPv6 to the node is left to the kernel/);
    assert.equal(logged.filter((l) => l.warning === r.warnings[0]).length, 1);
    const tx = await svc.transaction('add rule inet f in tcp dport 22 accept');
    assert.deepEqual(tx.warnings, r.warnings);
    assert.equal(logged.filter((l) => l.warning === r.warnings[0]).length, 1, 'unchanged warnings are not logged again');
    const before = calls();
    const el = await svc.transaction('add element inet f block { 192.0.2.9 }');
    assert.deepEqual(el.warnings, r.warnings);
    assert.equal(calls(), before, 'an element change does not recompute them');
    const fixed = await svc.transaction('flush chain inet f in');
    assert.deepEqual(fixed.warnings, []);
  });
});
