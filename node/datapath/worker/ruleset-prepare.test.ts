import assert from 'node:assert/strict';
import { buildMemoryDatapath, type MemoryDatapath } from './memory-datapath.js';
import type { PlainRoute } from '../shared/messages.js';

const ROUTES: PlainRoute[] = [{ family: 4, prefix: [10, 0, 0, 0], len: 24, ifname: 'lan', src: [10, 0, 0, 1] }];
const A = 'table ip filter {\n  chain fw {\n    type filter hook forward priority 0; policy accept;\n    udp dport 9 drop\n  }\n}\n';
const B = 'table ip filter {\n  chain fw {\n    type filter hook forward priority 0; policy drop;\n    udp dport 53 accept\n  }\n}\n';
const CAPS = { maxBytes: 1 << 20, maxExpandedTokens: 1_000_000 };

describe('datapath thread: a replace prepared before the control verdict', () => {
  let b: MemoryDatapath;
  let listId = 100;
  // A fresh id each time: ask() answers with the first message sent under its id.
  const listing = (): string => (b.ask({ type: 'ruleset-list', id: listId++, format: 'nft', handles: false }) as { text: string }).text;
  beforeEach(async () => {
    b = await buildMemoryDatapath(ROUTES);
    assert.equal((b.ask({ type: 'ruleset-load', id: 1, text: A }) as { ok: boolean }).ok, true);
  });
  afterEach(() => b.dp.handle({ type: 'stop' }));

  it('prepare changes nothing; commit swaps the prepared ruleset in', () => {
    b.dp.handle({ type: 'ruleset-prepare', prepareId: 5, text: B, file: '<api>', caps: CAPS });
    assert.match(listing(), /udp dport 9 drop/);
    assert.deepEqual(b.ask({ type: 'ruleset-commit', id: 6, prepareId: 5 }), { type: 'ruleset-result', id: 6, ok: true, generation: 2 });
    assert.match(listing(), /udp dport 53 accept/);
  });

  it('abort drops it: a later commit of it is refused and nothing changed', () => {
    b.dp.handle({ type: 'ruleset-prepare', prepareId: 5, text: B, caps: CAPS });
    b.dp.handle({ type: 'ruleset-abort', prepareId: 5 });
    const r = b.ask({ type: 'ruleset-commit', id: 6, prepareId: 5 }) as { ok: boolean; generation: number; error: string };
    assert.equal(r.ok, false);
    assert.match(r.error, /no prepared ruleset 5/);
    assert.equal(r.generation, 1);
    assert.match(listing(), /udp dport 9 drop/);
  });

  it('what the caps refused at prepare but the control thread accepted still loads on commit', () => {
    b.dp.handle({ type: 'ruleset-prepare', prepareId: 5, text: B, caps: { maxBytes: 16, maxExpandedTokens: 10 } });
    assert.deepEqual(b.ask({ type: 'ruleset-commit', id: 6, prepareId: 5 }), { type: 'ruleset-result', id: 6, ok: true, generation: 2 });
    assert.match(listing(), /udp dport 53 accept/);
  });

  it('a commit in between makes the prepared form stale: the text is loaded instead', () => {
    b.dp.handle({ type: 'ruleset-prepare', prepareId: 5, text: B, caps: CAPS });
    assert.equal((b.ask({ type: 'ruleset-tx', id: 2, ops: 'add rule ip filter fw tcp dport 22 accept' }) as { generation: number }).generation, 2);
    assert.deepEqual(b.ask({ type: 'ruleset-commit', id: 6, prepareId: 5 }), { type: 'ruleset-result', id: 6, ok: true, generation: 3 });
    assert.match(listing(), /udp dport 53 accept/);
    assert.doesNotMatch(listing(), /dport 22/);
  });
});
