import assert from 'node:assert/strict';
import { PacketFrameSender, realClock } from './vrrp-ports.js';

describe('PacketFrameSender', () => {
  // Descriptors that cannot be written: sendFrame's write fails (and is swallowed); what
  // the tests look at is when sockets are opened.
  function sender(fail = new Set<string>()) {
    const opened: string[] = [];
    const s = new PacketFrameSender((ifname) => {
      opened.push(ifname);
      if (fail.has(ifname)) throw new Error(`no interface ${ifname}`);
      return 1_000_000 + opened.length;
    });
    return { s, opened };
  }

  it('prepare() opens the sockets up front, so a takeover\'s first frames open none', () => {
    const { s, opened } = sender();
    s.prepare(['lan', 'wan']);
    assert.deepEqual(opened, ['lan', 'wan']);
    s.sendFrame('lan', new Uint8Array(60));
    s.sendFrame('wan', new Uint8Array(60));
    assert.deepEqual(opened, ['lan', 'wan']);
  });

  it('an interface that could not be opened at prepare() is opened at its first send', () => {
    const fail = new Set(['wan']);
    const { s, opened } = sender(fail);
    s.prepare(['lan', 'wan']);
    fail.clear();
    s.sendFrame('wan', new Uint8Array(60));
    assert.deepEqual(opened, ['lan', 'wan', 'wan']);
    s.sendFrame('wan', new Uint8Array(60));
    assert.equal(opened.length, 3);
  });
});

describe('realClock', () => {
  for (const precise of [false, true]) {
    it(`a ${precise ? 'precise' : 'plain'} timer never runs before its deadline`, async () => {
      const early: number[] = [];
      await Promise.all([0.3, 1, 2.5, 7.2, 12].map((d) => new Promise<void>((resolve) => {
        const at = performance.now() + d;
        realClock.setTimer(at, () => {
          const now = performance.now();
          if (now < at) early.push(at - now);
          resolve();
        }, { precise });
      })));
      assert.deepEqual(early, []);
    });
  }

  it('a precise timer cleared while it waits out its last millisecond does not run', async () => {
    // Only a clear that happens before the deadline can be judged (on a loaded host the turn
    // may come after it, and the timer has rightly run): try until one does, a few times.
    let judged = 0;
    for (let attempt = 0; attempt < 20 && judged < 3; attempt++) {
      let ran = false;
      const deadline = performance.now() + 1;
      const h = realClock.setTimer(deadline, () => (ran = true), { precise: true });
      await new Promise((r) => setImmediate(r));
      const clearedAt = performance.now();
      realClock.clearTimer(h);
      await new Promise((r) => setTimeout(r, 10));
      if (clearedAt >= deadline) continue;
      judged++;
      assert.equal(ran, false, `cleared ${(deadline - clearedAt).toFixed(3)} ms before its deadline, it ran`);
    }
    assert.ok(judged > 0, 'no attempt cleared the timer before its deadline');
  });
});
