import assert from 'node:assert/strict';
import { EventBus, parseTypes } from './event-bus.js';
import { SyncAlarmWatcher } from './sync-alarms.js';
import type { SyncStatusSnapshot } from '../../sync-protocol/index.js';

describe('event bus', () => {
  it('numbers events and delivers each to the subscribers whose types admit it', () => {
    const bus = new EventBus();
    const all: string[] = [];
    const vrrp: string[] = [];
    bus.subscribe(undefined, (e) => all.push(`${e.seq}:${e.type}`));
    const off = bus.subscribe(['vrrp'], (e) => vrrp.push(`${e.seq}:${e.type}`));
    bus.publish('ruleset', {});
    bus.publish('vrrp', {});
    off();
    bus.publish('vrrp', {});
    assert.deepEqual(all, ['1:ruleset', '2:vrrp', '3:vrrp']);
    assert.deepEqual(vrrp, ['2:vrrp']);
    assert.equal(bus.subscribers, 1);
  });

  it('keeps delivering when one subscriber throws', () => {
    const bus = new EventBus();
    let got = 0;
    bus.subscribe([], () => {
      throw new Error('broken stream');
    });
    bus.subscribe(undefined, () => got++);
    bus.publish('drill', {});
    assert.equal(got, 1);
  });

  it('keeps only the most recent events', () => {
    const bus = new EventBus(2);
    for (let i = 0; i < 5; i++) bus.publish('sync', i);
    assert.deepEqual(bus.recent().map((e) => e.data), [3, 4]);
  });

  it('parses ?types= lists', () => {
    assert.deepEqual(parseTypes('vrrp, drill,'), ['vrrp', 'drill']);
    assert.equal(parseTypes(''), undefined);
    assert.equal(parseTypes(undefined), undefined);
  });
});

describe('sync alarms', () => {
  const snap = (counters: Record<string, number>, drops: Record<string, number>): SyncStatusSnapshot => ({
    nodeId: 1, epoch: 1, inSync: true, resendQueue: 0, pendingEvents: 0, ringDepth: 0, ringDrops: 0, counters, drops, peers: [], lagMs: { samples: 0, p50: null, p99: null },
  });

  it('reports increases of gap, resync and drop counters between snapshots, nothing else', () => {
    const w = new SyncAlarmWatcher();
    assert.deepEqual(w.next(snap({ gaps: 5, recordsApplied: 1 }, { auth: 2 })), []);
    assert.deepEqual(w.next(snap({ gaps: 5, recordsApplied: 90 }, { auth: 2 })), []);
    assert.deepEqual(w.next(snap({ gaps: 7, resyncsRequested: 1, recordsApplied: 99 }, { auth: 5 })), [
      { event: 'counter', name: 'gaps', increase: 2, total: 7 },
      { event: 'counter', name: 'resyncsRequested', increase: 1, total: 1 },
      { event: 'drop', name: 'auth', increase: 3, total: 5 },
    ]);
  });

  it('names the latest source and its count when datagrams fail authentication, from the first snapshot on', () => {
    const w = new SyncAlarmWatcher();
    const failures = (total: number, bySource: Record<string, number>, lastSource: string) => ({
      ...snap({}, { auth: total }),
      authFailures: { total, lastSource, lastReason: 'auth' as const, lastAt: 1, bySource },
    });
    assert.deepEqual(w.next(failures(2, { '203.0.113.9': 2 }, '203.0.113.9')), [
      { event: 'auth', increase: 2, total: 2, source: '203.0.113.9', sourceCount: 2, reason: 'auth' },
    ]);
    assert.deepEqual(w.next(failures(2, { '203.0.113.9': 2 }, '203.0.113.9')), []);
    assert.deepEqual(w.next(failures(5, { '203.0.113.9': 2, '198.51.100.7': 3 }, '198.51.100.7')), [
      { event: 'auth', increase: 3, total: 5, source: '198.51.100.7', sourceCount: 3, reason: 'auth' },
      { event: 'drop', name: 'auth', increase: 3, total: 5 },
    ]);
  });
});
