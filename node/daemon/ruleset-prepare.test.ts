import assert from 'node:assert/strict';
import { RulesetEngine } from '../ruleset/index.js';
import { RulesetService } from './ruleset-service.js';

const GOOD = 'table inet t {\n  chain c {\n    type filter hook forward priority 0; policy accept;\n    tcp dport 22 accept\n  }\n}\n';
const BAD = 'table inet t {\n  chain c {\n    tcp dport 22 jump nowhere\n  }\n}\n';

/** A service whose datapath records, in order, what it was sent and when the control engine committed. */
function service() {
  const engine = new RulesetEngine({ limits: { maxBytes: 4096, maxExpandedTokens: 5000 } });
  const seen: string[] = [];
  engine.on('change', (ev: { generation: number }) => seen.push(`control commit ${ev.generation}`));
  const svc = new RulesetService(engine, async () => ({ ok: true }), { info: () => undefined, error: () => undefined }, async () => {
    seen.push('plain load');
    return { ok: true };
  });
  svc.datapathPrepare = (text, file, caps) => {
    seen.push(`prepare ${file} ${text.length} bytes, caps ${caps.maxBytes}/${caps.maxExpandedTokens}`);
    return { commit: async () => (seen.push('commit'), { ok: true }), abort: () => void seen.push('abort') };
  };
  return { svc, seen };
}

describe('RulesetService: a replace compiles on the datapath while the control engine validates', () => {
  it('the datapath gets the text before the control verdict, bounded by the node caps, then the commit', async () => {
    const { svc, seen } = service();
    const r = await svc.replace(GOOD);
    assert.equal(r.generation, 1);
    assert.deepEqual(seen, [`prepare <api> ${GOOD.length} bytes, caps 4096/5000`, 'control commit 1', 'commit']);
  });

  it('a text the control engine refuses is aborted on the datapath, answered 400, and changes nothing', async () => {
    const { svc, seen } = service();
    await assert.rejects(svc.replace(BAD), (err: Error & { status?: number }) => err.status === 400 && /nowhere/.test(err.message));
    assert.deepEqual(seen, [`prepare <api> ${BAD.length} bytes, caps 4096/5000`, 'abort']);
    assert.equal(svc.generation(), 0);
  });
});
