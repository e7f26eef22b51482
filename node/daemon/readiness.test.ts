import assert from 'node:assert/strict';
import { VrrpReadiness, vrrpReadiness, type ReadinessInputs } from './readiness.js';
import { SyncAloneGuard } from './sync-alone-guard.js';

describe('VRRP readiness: the verdict', () => {
  it('is ready when nothing is configured to wait for', () => {
    assert.deepEqual(vrrpReadiness({}), { ready: true });
  });

  it('with state sync only: follows sync and the alone-guard', () => {
    assert.deepEqual(vrrpReadiness({ syncInSync: false, aloneGuardAllows: true }), { ready: false, reason: 'sync-not-in-sync' });
    assert.deepEqual(vrrpReadiness({ syncInSync: false, aloneGuardAllows: false }), { ready: false, reason: 'sync-not-in-sync' });
    // Sync calls itself in sync (alone), but a VRRP router was heard: the sync link is broken.
    assert.deepEqual(vrrpReadiness({ syncInSync: true, aloneGuardAllows: false }), { ready: false, reason: 'alone-guard' });
    assert.deepEqual(vrrpReadiness({ syncInSync: true, aloneGuardAllows: true }), { ready: true });
  });

  it('with ruleset-dist only: follows whether the ruleset is current', () => {
    assert.deepEqual(vrrpReadiness({ rulesetCurrent: false }), { ready: false, reason: 'ruleset-not-current' });
    assert.deepEqual(vrrpReadiness({ rulesetCurrent: true }), { ready: true });
  });

  it('with both: ready only when every input is', () => {
    const all: ReadinessInputs[] = [];
    for (const syncInSync of [false, true]) for (const aloneGuardAllows of [false, true]) for (const rulesetCurrent of [false, true]) all.push({ syncInSync, aloneGuardAllows, rulesetCurrent });
    for (const i of all) {
      const r = vrrpReadiness(i);
      assert.equal(r.ready, i.syncInSync && i.aloneGuardAllows && i.rulesetCurrent, JSON.stringify(i));
    }
    assert.deepEqual(vrrpReadiness({ syncInSync: true, aloneGuardAllows: true, rulesetCurrent: false }), { ready: false, reason: 'ruleset-not-current' });
    assert.deepEqual(vrrpReadiness({ syncInSync: true, aloneGuardAllows: false, rulesetCurrent: false }), { ready: false, reason: 'alone-guard' });
  });
});

describe('VRRP readiness: the source VRRP subscribes to', () => {
  function fixture(start: ReadinessInputs) {
    let inputs = { ...start };
    const watchers = new Set<() => void>();
    let unwatched = 0;
    const r = new VrrpReadiness(
      () => inputs,
      (changed) => {
        watchers.add(changed);
        return () => (watchers.delete(changed), unwatched++);
      },
    );
    return {
      r,
      set(i: ReadinessInputs, announce: boolean) {
        inputs = { ...inputs, ...i };
        if (announce) watchers.forEach((w) => w());
      },
      get unwatched() {
        return unwatched;
      },
    };
  }

  it('tells a subscriber only when the verdict flips', () => {
    const f = fixture({ syncInSync: false, rulesetCurrent: false });
    const seen: boolean[] = [];
    f.r.onChange((v) => seen.push(v));
    assert.equal(f.r.inSync, false);
    f.set({ syncInSync: true }, true);
    assert.deepEqual(seen, [], 'the ruleset still holds it back');
    assert.deepEqual(f.r.verdict, { ready: false, reason: 'ruleset-not-current' });
    f.set({ rulesetCurrent: true }, true);
    f.set({}, true);
    assert.deepEqual(seen, [true]);
    f.set({ syncInSync: false }, true);
    assert.deepEqual(seen, [true, false]);
  });

  it('recheck() picks up an input without change events (the alone-guard, a VRRP advert heard)', () => {
    const f = fixture({ syncInSync: true, aloneGuardAllows: false });
    const seen: boolean[] = [];
    f.r.onChange((v) => seen.push(v));
    f.set({ aloneGuardAllows: true }, false);
    assert.deepEqual(seen, [], 'nothing announced it yet');
    f.r.recheck();
    assert.deepEqual(seen, [true]);
  });

  it('unsubscribing stops both the announced changes and rechecks', () => {
    const f = fixture({ syncInSync: false });
    const seen: boolean[] = [];
    const off = f.r.onChange((v) => seen.push(v));
    off();
    assert.equal(f.unwatched, 1);
    f.set({ syncInSync: true }, true);
    f.r.recheck();
    assert.deepEqual(seen, []);
  });

  it('a node whose sync calls it alone while a VRRP router was heard stays not ready (with the real guard)', () => {
    // The guard counts from its construction on the wall clock; its `now` is then moved by hand.
    let t = Date.now();
    const guard = new SyncAloneGuard(1000, async () => ({ status: { peers: [] } }), () => t);
    let heard = 0;
    const r = new VrrpReadiness(() => ({ syncInSync: true, aloneGuardAllows: guard.allowsReady(heard) }), () => () => undefined);
    assert.deepEqual(r.verdict, { ready: false, reason: 'alone-guard' }, 'too early to call it alone');
    heard = 1;
    t += 5000;
    assert.equal(r.inSync, false, 'the VRRP peer is alive: the sync link, not the peer, is missing');
    heard = 0;
    let t2 = Date.now();
    const quiet = new SyncAloneGuard(1000, async () => ({ status: { peers: [] } }), () => t2);
    const r2 = new VrrpReadiness(() => ({ syncInSync: true, aloneGuardAllows: quiet.allowsReady(heard) }), () => () => undefined);
    t2 += 1000;
    assert.equal(r2.inSync, true, 'silence on both links for the whole wait: alone');
  });
});
