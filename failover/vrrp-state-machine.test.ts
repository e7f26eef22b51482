import assert from 'node:assert/strict';
import { ip } from './ip-address.js';
import { SimLan } from './testing/sim-lan.js';
import { VrrpRouter } from './vrrp-state-machine.js';
import { vrrpTimers } from './vrrp-timers.js';

const ready = { initiallyInSync: true } as const;

describe('vrrp-timers (RFC 5798 §6.1)', () => {
  it('computes Skew_Time and Master_Down_Interval from priority and the master interval', () => {
    const t = vrrpTimers(100, 100, 100);
    assert.equal(t.advertIntervalMs, 1000);
    assert.equal(t.skewMs, (156 * 100 / 256) * 10); // 609.375 ms
    assert.equal(t.masterDownMs, 3000 + 609.375);
    // the learned master interval, not our own, drives Master_Down_Interval
    const learned = vrrpTimers(100, 100, 10);
    assert.equal(learned.advertIntervalMs, 1000);
    assert.equal(learned.masterDownMs, 300 + 60.9375);
    // higher priority => shorter skew
    assert.ok(vrrpTimers(254, 1, 1).skewMs < vrrpTimers(1, 1, 1).skewMs);
  });
});

describe('vrrp-state-machine', () => {
  it('rejects out-of-range configuration', () => {
    const p = ip('192.0.2.2');
    assert.throws(() => new VrrpRouter({ vrid: 0, priority: 100, advertIntervalCs: 100, primaryAddress: p }), RangeError);
    assert.throws(() => new VrrpRouter({ vrid: 1, priority: 0, advertIntervalCs: 100, primaryAddress: p }), RangeError);
    assert.throws(() => new VrrpRouter({ vrid: 1, priority: 100, advertIntervalCs: 0, primaryAddress: p }), RangeError);
    assert.throws(() => new VrrpRouter({ vrid: 1, priority: 100, advertIntervalCs: 4096, primaryAddress: p }), RangeError);
  });

  it('two routers started together elect the higher priority, and only it holds the VIPs', () => {
    const lan = new SimLan();
    lan.add('a', '192.0.2.2', { priority: 200, advertIntervalCs: 100, ...ready });
    lan.add('b', '192.0.2.3', { priority: 100, advertIntervalCs: 100, ...ready });
    lan.start('a'); lan.start('b');
    lan.runFor(60_000);
    assert.deepEqual(lan.masters(), ['a']);
    assert.deepEqual(lan.vipHolders(), ['a']);
    assert.equal(lan.stateOf('b'), 'backup');
    assert.equal(lan.changes('b').filter((c) => c.to === 'master').length, 0);
  });

  it('three routers elect exactly one master, the highest priority', () => {
    const lan = new SimLan();
    lan.add('a', '192.0.2.2', { priority: 50, advertIntervalCs: 10, ...ready });
    lan.add('b', '192.0.2.3', { priority: 150, advertIntervalCs: 10, ...ready });
    lan.add('c', '192.0.2.4', { priority: 100, advertIntervalCs: 10, ...ready });
    for (const n of ['a', 'b', 'c']) lan.start(n);
    lan.runFor(10_000);
    assert.deepEqual(lan.masters(), ['b']);
    assert.deepEqual(lan.vipHolders(), ['b']);
  });

  it('no false takeover in 10 minutes at a 10 ms interval with 5 ms jitter and isolated losses', () => {
    const lan = new SimLan();
    lan.jitterMs = 5;
    lan.isolatedLoss = 0.02;
    lan.add('a', '192.0.2.2', { priority: 200, advertIntervalCs: 1, ...ready });
    lan.add('b', '192.0.2.3', { priority: 100, advertIntervalCs: 1, ...ready });
    lan.start('a'); lan.start('b');
    lan.runFor(1_000);
    const t0 = lan.now;
    lan.runFor(600_000);
    assert.ok(lan.sent > 59_000, `${lan.sent} adverts`);
    assert.ok(lan.lost > 500, `${lan.lost} lost`);
    assert.deepEqual(lan.changes('a', t0), []);
    assert.deepEqual(lan.changes('b', t0), []);
    assert.deepEqual(lan.masters(), ['a']);
  });

  it('with three routers, the next highest backup takes over when the master dies and the third never does', () => {
    const lan = new SimLan();
    lan.add('a', '192.0.2.2', { priority: 200, advertIntervalCs: 1, ...ready });
    lan.add('b', '192.0.2.3', { priority: 150, advertIntervalCs: 1, ...ready });
    lan.add('c', '192.0.2.4', { priority: 100, advertIntervalCs: 1, ...ready });
    for (const n of ['a', 'b', 'c']) lan.start(n);
    lan.runFor(2_000);
    const t0 = lan.now;
    lan.kill('a');
    lan.runFor(5_000);
    assert.deepEqual(lan.masters(), ['b']);
    assert.deepEqual(lan.vipHolders(), ['b']);
    assert.deepEqual(lan.changes('c', t0), []);
    // Skew_Time orders them: b (150) times out before c (100) would
    assert.ok(vrrpTimers(150, 1, 1).masterDownMs < vrrpTimers(100, 1, 1).masterDownMs);
  });

  it('the address owner (priority 255) becomes master at startup without waiting', () => {
    const lan = new SimLan();
    lan.add('a', '192.0.2.2', { priority: 255, advertIntervalCs: 100, ...ready });
    lan.start('a');
    assert.equal(lan.stateOf('a'), 'master');
    assert.deepEqual(lan.changes('a').map((c) => c.reason), ['startup']);
    const types = lan.node('a').log.map((e) => e.action.type);
    assert.deepEqual(types.slice(0, 3), ['addVips', 'sendAdvert', 'announce']);
  });

  it('when the master dies, the backup takes over after Master_Down_Interval, not before', () => {
    const lan = new SimLan();
    lan.add('a', '192.0.2.2', { priority: 200, advertIntervalCs: 100, ...ready });
    lan.add('b', '192.0.2.3', { priority: 100, advertIntervalCs: 100, ...ready });
    lan.start('a'); lan.runFor(100); lan.start('b');
    lan.runFor(20_000);
    // kill right after an advertisement went out
    const lastAdvert = lan.node('a').log.filter((e) => e.action.type === 'sendAdvert').at(-1)!.at;
    lan.runUntil(lastAdvert + 1);
    lan.kill('a');
    const mdi = vrrpTimers(100, 100, 100).masterDownMs;
    const c = lan.changes('b', lan.now);
    assert.equal(c.length, 0);
    lan.runFor(mdi - 10);
    assert.equal(lan.stateOf('b'), 'backup');
    lan.runFor(20);
    assert.equal(lan.stateOf('b'), 'master');
    const took = lan.changes('b').at(-1)!;
    assert.equal(took.reason, 'masterDown');
    assert.ok(Math.abs(took.at - (lastAdvert + lan.latencyMs + mdi)) < 1e-6, `took over at ${took.at}`);
    assert.deepEqual(lan.vipHolders(), ['b']);
    assert.equal(lan.actions('b', 'announce').length, 1);
  });

  it('with a 10 ms interval the backup takes over within about 40 ms of the master dying', () => {
    const lan = new SimLan();
    lan.latencyMs = 0.05;
    lan.add('a', '192.0.2.2', { priority: 200, advertIntervalCs: 1, ...ready });
    lan.add('b', '192.0.2.3', { priority: 100, advertIntervalCs: 1, ...ready });
    lan.start('a'); lan.start('b');
    lan.runFor(5_000);
    assert.deepEqual(lan.masters(), ['a']);
    const killedAt = lan.now;
    lan.kill('a');
    lan.runFor(100);
    const took = lan.changes('b', killedAt).find((c) => c.to === 'master')!;
    const lastAdvert = lan.node('a').log.filter((e) => e.action.type === 'sendAdvert').at(-1)!.at;
    const mdi = vrrpTimers(100, 1, 1).masterDownMs; // 30 ms + 6.1 ms skew
    assert.ok(Math.abs(took.at - lastAdvert - lan.latencyMs - mdi) < 1e-6, `after last advert ${took.at - lastAdvert}`);
    assert.ok(took.at - killedAt <= 40, `after kill ${took.at - killedAt}`);
    // and no false takeover while the master was alive, despite 500 adverts
    assert.equal(lan.changes('b', 1).filter((c) => c.to === 'master' && c.at < killedAt).length, 0);
  });

  it('a master resigning with priority 0 hands over after Skew_Time', () => {
    const lan = new SimLan();
    lan.add('a', '192.0.2.2', { priority: 200, advertIntervalCs: 100, ...ready });
    lan.add('b', '192.0.2.3', { priority: 100, advertIntervalCs: 100, ...ready });
    lan.start('a'); lan.start('b');
    lan.runFor(10_000);
    const t0 = lan.now;
    lan.input('a', { type: 'shutdown' });
    assert.equal(lan.stateOf('a'), 'initialize');
    assert.equal(lan.node('a').holdsVips, false);
    const sent = lan.actions('a', 'sendAdvert', t0);
    assert.deepEqual(sent.map((a) => a.type === 'sendAdvert' && a.priority), [0]);
    lan.runFor(3_000);
    const took = lan.changes('b', t0).find((c) => c.to === 'master')!;
    assert.equal(took.reason, 'peerResigned');
    const skew = vrrpTimers(100, 100, 100).skewMs;
    assert.ok(Math.abs(took.at - t0 - lan.latencyMs - skew) < 1e-6, `after ${took.at - t0} ms, skew ${skew}`);
  });

  it('a higher priority router joining later preempts the current master', () => {
    const lan = new SimLan();
    lan.add('a', '192.0.2.2', { priority: 200, advertIntervalCs: 10, ...ready });
    lan.add('b', '192.0.2.3', { priority: 100, advertIntervalCs: 10, ...ready });
    lan.start('b');
    lan.runFor(5_000);
    assert.deepEqual(lan.masters(), ['b']);
    const t0 = lan.now;
    lan.start('a');
    lan.runFor(5_000);
    assert.deepEqual(lan.masters(), ['a']);
    assert.deepEqual(lan.vipHolders(), ['a']);
    assert.equal(lan.changes('a', t0).at(-1)!.reason, 'preempted');
    assert.equal(lan.changes('b', t0).at(-1)!.reason, 'higherPriority');
    // takeover within a Master_Down_Interval of starting
    assert.ok(lan.changes('a', t0).at(-1)!.at - t0 < vrrpTimers(200, 10, 10).masterDownMs + 1);
  });

  it('preempt delay holds the takeover back, and preempt off prevents it', () => {
    const lan = new SimLan();
    lan.add('a', '192.0.2.2', { priority: 200, advertIntervalCs: 10, preemptDelayMs: 5_000, ...ready });
    lan.add('b', '192.0.2.3', { priority: 100, advertIntervalCs: 10, ...ready });
    lan.start('b'); lan.runFor(2_000);
    const t0 = lan.now;
    lan.start('a');
    lan.runFor(4_900);
    assert.deepEqual(lan.masters(), ['b']);
    lan.runFor(1_000);
    assert.deepEqual(lan.masters(), ['a']);
    const took = lan.changes('a', t0).at(-1)!.at - t0;
    assert.ok(took >= 5_000 && took < 5_000 + 500, `took ${took}`);

    const lan2 = new SimLan();
    lan2.add('a', '192.0.2.2', { priority: 200, advertIntervalCs: 10, preempt: false, ...ready });
    lan2.add('b', '192.0.2.3', { priority: 100, advertIntervalCs: 10, ...ready });
    lan2.start('b'); lan2.runFor(2_000);
    lan2.start('a'); lan2.runFor(20_000);
    assert.deepEqual(lan2.masters(), ['b']);
  });

  it('the address owner preempts even with preemption off, once its state is in sync', () => {
    const lan = new SimLan();
    lan.add('a', '192.0.2.2', { priority: 255, advertIntervalCs: 10, preempt: false });
    lan.add('b', '192.0.2.3', { priority: 100, advertIntervalCs: 10, ...ready });
    lan.start('b'); lan.runFor(1_000);
    lan.start('a'); lan.runFor(3_000);
    assert.equal(lan.stateOf('a'), 'backup'); // demoted while not in sync: not the owner yet
    lan.input('a', { type: 'syncReady', ready: true });
    assert.equal(lan.node('a').router.effectivePriority, 255);
    lan.runFor(1_000);
    assert.deepEqual(lan.masters(), ['a']);
  });

  it('a restarted router that is not in sync advertises a demoted priority and does not preempt until sync completes', () => {
    const lan = new SimLan();
    lan.add('a', '192.0.2.2', { priority: 200, advertIntervalCs: 10 });
    lan.add('b', '192.0.2.3', { priority: 100, advertIntervalCs: 10, ...ready });
    assert.equal(lan.node('a').router.effectivePriority, 1);
    lan.start('b'); lan.runFor(1_000);
    lan.start('a');
    lan.runFor(30_000);
    assert.deepEqual(lan.masters(), ['b']);
    assert.equal(lan.changes('a').filter((c) => c.to === 'master').length, 0);
    const t0 = lan.now;
    lan.input('a', { type: 'syncReady', ready: true });
    assert.equal(lan.node('a').router.effectivePriority, 200);
    lan.runFor(2_000);
    assert.deepEqual(lan.masters(), ['a']);
    assert.equal(lan.changes('a', t0).at(-1)!.reason, 'preempted');
  });

  it('a backup about to preempt that loses sync goes back to following the master', () => {
    const r = new VrrpRouter({ vrid: 1, priority: 200, advertIntervalCs: 10, primaryAddress: ip('192.0.2.2'), initiallyInSync: true });
    r.handle({ type: 'startup' }, 0);
    const master = ip('192.0.2.3');
    r.handle({ type: 'advert', priority: 100, maxAdverIntervalCs: 10, src: master }, 0); // discarded: we preempt
    const deadline = r.timerDeadline!;
    // just before the Master_Down_Timer would make us master, sync is lost
    const acts = r.handle({ type: 'syncReady', ready: false }, deadline - 1);
    assert.ok(acts.some((a) => a.type === 'armTimer' && a.at > deadline));
    assert.deepEqual(r.handle({ type: 'timer' }, deadline), []);
    assert.equal(r.state, 'backup');
    assert.equal(r.currentMaster?.address, '192.0.2.3');
    // the master keeps advertising: we keep following it
    r.handle({ type: 'advert', priority: 100, maxAdverIntervalCs: 10, src: master }, deadline + 5);
    assert.equal(r.state, 'backup');
    // with no master at all, a node out of sync still takes over after Master_Down_Interval
    const t = r.timerDeadline!;
    const out = r.handle({ type: 'timer' }, t);
    assert.equal(r.state, 'master');
    assert.ok(out.some((a) => a.type === 'stateChange' && a.reason === 'masterDown'));
  });

  it('a router that is not in sync still takes over when no peer is alive', () => {
    const lan = new SimLan();
    lan.add('a', '192.0.2.2', { priority: 200, advertIntervalCs: 10 });
    lan.add('b', '192.0.2.3', { priority: 100, advertIntervalCs: 10, ...ready });
    lan.start('b'); lan.runFor(1_000);
    lan.start('a'); lan.runFor(2_000);
    const t0 = lan.now;
    lan.kill('b');
    lan.runFor(1_000);
    assert.deepEqual(lan.masters(), ['a']);
    assert.equal(lan.changes('a', t0).at(-1)!.reason, 'masterDown');
    // it advertises its demoted priority while master
    const sent = lan.actions('a', 'sendAdvert', t0);
    assert.ok(sent.length > 0 && sent.every((s) => s.type === 'sendAdvert' && s.priority === 1));
  });

  it('split brain after a partition heals to one master without flapping, and the winner re-announces', () => {
    const lan = new SimLan();
    lan.add('a', '192.0.2.2', { priority: 200, advertIntervalCs: 10, ...ready });
    lan.add('b', '192.0.2.3', { priority: 100, advertIntervalCs: 10, ...ready });
    lan.start('a'); lan.start('b');
    lan.runFor(2_000);
    lan.node('b').segment = 'cut';
    lan.runFor(2_000);
    assert.deepEqual(lan.masters().sort(), ['a', 'b']);
    const healed = lan.now;
    lan.node('b').segment = 'lan';
    lan.runFor(60_000);
    assert.deepEqual(lan.masters(), ['a']);
    assert.deepEqual(lan.vipHolders(), ['a']);
    assert.equal(lan.changes('a', healed).length, 0); // the winner never moved
    const bChanges = lan.changes('b', healed);
    assert.equal(bChanges.length, 1); // exactly one step down, then quiet
    assert.equal(bChanges[0]!.to, 'backup');
    assert.ok(bChanges[0]!.at - healed <= 100 + 1, 'loser steps down within one interval');
    assert.deepEqual(lan.actions('a', 'announce', healed), [{ type: 'announce', reason: 'splitBrainWon' }]);
  });

  it('the winner re-announces whichever advertisement crosses the healed link first', () => {
    // Phase the two masters' advertisements differently so that in some runs the
    // winner's reaches the loser first and in others the loser's reaches the winner.
    for (let phase = 0; phase < 10; phase++) {
      const lan = new SimLan();
      lan.add('a', '192.0.2.2', { priority: 200, advertIntervalCs: 10, ...ready });
      lan.add('b', '192.0.2.3', { priority: 100, advertIntervalCs: 10, ...ready });
      lan.node('b').segment = 'cut';
      lan.start('a');
      lan.runFor(phase * 10 + 3);
      lan.start('b');
      lan.runFor(3_000);
      assert.equal(lan.masters().length, 2);
      const healed = lan.now;
      lan.node('b').segment = 'lan';
      lan.runFor(5_000);
      assert.deepEqual(lan.masters(), ['a'], `phase ${phase}`);
      assert.equal(lan.actions('a', 'announce', healed).length, 1, `phase ${phase}`);
      assert.equal(lan.changes('b', healed).length, 1, `phase ${phase}`);
    }
  });

  it('split brain between equal priorities is won by the higher primary address', () => {
    const lan = new SimLan();
    lan.add('a', '192.0.2.2', { priority: 100, advertIntervalCs: 10, ...ready });
    lan.add('b', '192.0.2.3', { priority: 100, advertIntervalCs: 10, ...ready });
    lan.node('b').segment = 'cut';
    lan.start('a'); lan.start('b');
    lan.runFor(2_000);
    assert.equal(lan.masters().length, 2);
    const healed = lan.now;
    lan.node('b').segment = 'lan';
    lan.runFor(30_000);
    assert.deepEqual(lan.masters(), ['b']);
    assert.equal(lan.changes('a', healed).length, 1);
    assert.equal(lan.changes('b', healed).length, 0);
  });

  it('a LAN link down (fault) makes the master resign; the backup takes over after Skew_Time; link up preempts back', () => {
    const lan = new SimLan();
    const tracks = [{ name: 'lan', role: 'lan' as const }, { name: 'wan', role: 'wan' as const }];
    lan.add('a', '192.0.2.2', { priority: 200, advertIntervalCs: 10, tracks, ...ready });
    lan.add('b', '192.0.2.3', { priority: 100, advertIntervalCs: 10, tracks, ...ready });
    lan.start('a'); lan.start('b');
    lan.runFor(2_000);
    const t0 = lan.now;
    lan.input('a', { type: 'link', name: 'wan', up: false });
    assert.equal(lan.stateOf('a'), 'initialize');
    assert.equal(lan.changes('a', t0)[0]!.reason, 'fault');
    lan.runFor(1_000);
    assert.deepEqual(lan.masters(), ['b']);
    assert.equal(lan.changes('b', t0)[0]!.reason, 'peerResigned');
    // stays out of service while faulted
    lan.runFor(5_000);
    assert.equal(lan.stateOf('a'), 'initialize');
    const t1 = lan.now;
    lan.input('a', { type: 'link', name: 'wan', up: true });
    assert.equal(lan.changes('a', t1)[0]!.reason, 'faultCleared');
    lan.runFor(2_000);
    assert.deepEqual(lan.masters(), ['a']);
  });

  it('a link down with a priority decrement demotes the master below the backup, which preempts', () => {
    const lan = new SimLan();
    lan.add('a', '192.0.2.2', { priority: 200, advertIntervalCs: 10, tracks: [{ name: 'lan', role: 'lan', onDown: 150 }], ...ready });
    lan.add('b', '192.0.2.3', { priority: 100, advertIntervalCs: 10, ...ready });
    lan.start('a'); lan.start('b');
    lan.runFor(2_000);
    const t0 = lan.now;
    lan.input('a', { type: 'link', name: 'lan', up: false });
    assert.equal(lan.node('a').router.effectivePriority, 50);
    // the master announces its new priority at once
    assert.deepEqual(lan.actions('a', 'sendAdvert', t0)[0], { type: 'sendAdvert', priority: 50, maxAdverIntervalCs: 10 });
    lan.runFor(2_000);
    assert.deepEqual(lan.masters(), ['b']);
    lan.input('a', { type: 'link', name: 'lan', up: false }); // repeated report: no change
    assert.equal(lan.node('a').router.effectivePriority, 50);
  });

  it('the sync link going down raises an alarm and clears it when back, without demoting', () => {
    const r = new VrrpRouter({ vrid: 1, priority: 100, advertIntervalCs: 100, primaryAddress: ip('192.0.2.2'), tracks: [{ name: 'sync', role: 'sync' }], initiallyInSync: true });
    r.handle({ type: 'startup' }, 0);
    assert.deepEqual(r.handle({ type: 'link', name: 'sync', up: false }, 10), [{ type: 'alarm', code: 'syncLinkDown', link: 'sync', active: true }]);
    assert.equal(r.effectivePriority, 100);
    assert.equal(r.state, 'backup');
    assert.deepEqual(r.handle({ type: 'link', name: 'sync', up: true }, 20), [{ type: 'alarm', code: 'syncLinkDown', link: 'sync', active: false }]);
    assert.deepEqual(r.handle({ type: 'link', name: 'unknown', up: false }, 30), []);
  });

  it('a backup learns Master_Adver_Interval from the master', () => {
    const lan = new SimLan();
    lan.add('a', '192.0.2.2', { priority: 200, advertIntervalCs: 5, ...ready });
    lan.add('b', '192.0.2.3', { priority: 100, advertIntervalCs: 100, ...ready });
    lan.start('a'); lan.start('b');
    lan.runFor(1_000);
    assert.equal(lan.node('b').router.learnedMasterAdverIntervalCs, 5);
    const killedAt = lan.now;
    lan.kill('a');
    lan.runFor(1_000);
    const took = lan.changes('b', killedAt).find((c) => c.to === 'master')!;
    assert.ok(took.at - killedAt <= vrrpTimers(100, 100, 5).masterDownMs + 1, `took ${took.at - killedAt} ms`);
  });

  it('ignores stale timer events and out-of-range advertisement fields', () => {
    const r = new VrrpRouter({ vrid: 1, priority: 100, advertIntervalCs: 100, primaryAddress: ip('192.0.2.2'), initiallyInSync: true });
    r.handle({ type: 'startup' }, 0);
    const deadline = r.timerDeadline!;
    assert.deepEqual(r.handle({ type: 'timer' }, deadline - 1), []);
    assert.equal(r.state, 'backup');
    assert.deepEqual(r.handle({ type: 'advert', priority: 300, maxAdverIntervalCs: 100, src: ip('192.0.2.3') }, 5), []);
    assert.deepEqual(r.handle({ type: 'advert', priority: 100, maxAdverIntervalCs: 0, src: ip('192.0.2.3') }, 5), []);
    assert.equal(r.timerDeadline, deadline);
  });

  it('a restarted old master waits for its resync before taking back the VIPs (no preemption before)', () => {
    const lan = new SimLan();
    lan.add('a', '192.0.2.2', { priority: 200, advertIntervalCs: 10, ...ready });
    lan.add('b', '192.0.2.3', { priority: 100, advertIntervalCs: 10, ...ready });
    lan.start('a'); lan.start('b'); lan.runFor(2_000);
    lan.kill('a'); lan.runFor(1_000);
    assert.deepEqual(lan.masters(), ['b']);
    const t0 = lan.now;
    lan.restart('a', { priority: 200, advertIntervalCs: 10 }); // comes back without state
    lan.runFor(10_000);
    assert.deepEqual(lan.vipHolders(), ['b']);
    assert.equal(lan.changes('b', t0).length, 0);
    lan.input('a', { type: 'syncReady', ready: true });
    lan.runFor(1_000);
    assert.deepEqual(lan.vipHolders(), ['a']);
  });

  it('a master whose advertisements cannot be sent demotes itself and yields to the backup instead of a split brain', () => {
    const lan = new SimLan();
    lan.add('a', '192.0.2.2', { priority: 200, advertIntervalCs: 10, preempt: true, ...ready });
    lan.add('b', '192.0.2.3', { priority: 100, advertIntervalCs: 10, preempt: true, ...ready });
    lan.start('a'); lan.start('b'); lan.runFor(2_000);
    assert.deepEqual(lan.masters(), ['a']);
    const t0 = lan.now;
    lan.sendFails.add('a');
    lan.runFor(2_000);
    // b heard nothing for Master_Down_Interval and took over; a, demoted, stepped down on
    // b's first advertisement instead of fighting it (as a higher priority it would win and
    // keep re-announcing VIPs it cannot defend).
    assert.deepEqual(lan.masters(), ['b']);
    assert.deepEqual(lan.vipHolders(), ['b']);
    assert.equal(lan.node('a').router.demotedForSendErrors, true);
    assert.equal(lan.node('a').router.effectivePriority, 1);
    const alarms = lan.actions('a', 'alarm', t0);
    assert.deepEqual(alarms, [{ type: 'alarm', code: 'sendErrors', failures: 3, active: true }]);
    // Sending works again: the demotion holds while a is backup (only a master sends), so a
    // preempting a does not flap between failing and yielding.
    lan.sendFails.delete('a');
    lan.runFor(5_000);
    assert.deepEqual(lan.masters(), ['b']);
    assert.equal(lan.changes('a', t0).filter((c) => c.to === 'master').length, 0);
  });

  it('send-error demotion needs three failures in a row and lifts after three good sends', () => {
    const r = new VrrpRouter({ vrid: 1, priority: 150, advertIntervalCs: 100, primaryAddress: ip('192.0.2.2'), initiallyInSync: true });
    r.handle({ type: 'startup' }, 0);
    r.handle({ type: 'timer' }, r.timerDeadline!);
    assert.equal(r.state, 'master');
    // Two failures, a success, two failures: never three in a row.
    for (const ok of [false, false, true, false, false]) assert.deepEqual(r.handle({ type: 'sendResult', ok }, 10), []);
    assert.equal(r.effectivePriority, 150);
    const demote = r.handle({ type: 'sendResult', ok: false }, 20);
    assert.deepEqual(demote, [
      { type: 'alarm', code: 'sendErrors', failures: 3, active: true },
      { type: 'priorityChange', from: 150, to: 1 },
      { type: 'sendAdvert', priority: 1, maxAdverIntervalCs: 100 },
    ]);
    assert.equal(r.state, 'master'); // alone on the segment, it keeps forwarding
    assert.deepEqual(r.handle({ type: 'sendResult', ok: true }, 30), []);
    assert.deepEqual(r.handle({ type: 'sendResult', ok: true }, 40), []);
    assert.deepEqual(r.handle({ type: 'sendResult', ok: true }, 50), [
      { type: 'alarm', code: 'sendErrors', failures: 0, active: false },
      { type: 'priorityChange', from: 1, to: 150 },
      { type: 'sendAdvert', priority: 150, maxAdverIntervalCs: 100 },
    ]);
    assert.equal(r.demotedForSendErrors, false);
  });
});
