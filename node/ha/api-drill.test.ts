import assert from 'node:assert/strict';
import { DrillService, DrillRefused, type DrillVrrp, type DrillTrafficSource } from './api-drill.js';

/** A VRRP pair in miniature: resigning makes the peer advertise as master after `takeoverMs`. */
class FakeVrrp implements DrillVrrp {
  st = 'master';
  resigned = 0;
  resumed = 0;
  private cbs = new Set<(from: string, priority: number, atMs: number) => void>();
  constructor(
    readonly preempt: boolean,
    private readonly takeoverMs: number | null,
  ) {}
  state(): string {
    return this.st;
  }
  async resign(): Promise<void> {
    this.resigned++;
    this.st = 'initialize';
    for (const cb of this.cbs) cb('10.0.0.2', 0, 0); // our own priority-0 echo must not count
    if (this.takeoverMs !== null) setTimeout(() => [...this.cbs].forEach((cb) => cb('10.0.0.2', 100, 0)), this.takeoverMs);
  }
  resume(): void {
    this.resumed++;
    this.st = 'backup';
    if (this.preempt) setTimeout(() => (this.st = 'master'), 20);
  }
  onAdvert(cb: (from: string, priority: number, atMs: number) => void): () => void {
    this.cbs.add(cb);
    return () => this.cbs.delete(cb);
  }
}

describe('API failover drill (resign, measure, take back)', () => {
  it('measures the takeover, holds, takes mastership back and reports each phase', async () => {
    const v = new FakeVrrp(true, 30);
    const events: { phase: string }[] = [];
    const d = new DrillService({ vrrp: v, peerInSync: async () => true, publish: (_t, e) => events.push(e as { phase: string }) });
    const { report, done } = d.start('resign', 0.05);
    assert.equal(report.status, 'running');
    assert.throws(() => d.start('resign', 0), DrillRefused, 'one drill at a time');
    const r = await done;
    assert.equal(r.status, 'done');
    assert.equal(r.takeover!.peer, '10.0.0.2');
    assert.ok(r.takeover!.ms >= 25 && r.takeover!.ms < 1000, `takeover ${r.takeover!.ms} ms`);
    assert.equal(r.peerInSync, true);
    assert.ok(r.reclaimMs !== null && r.reclaimMs >= 15);
    assert.equal(r.finalState, 'master');
    assert.deepEqual(events.map((e) => e.phase), ['started', 'resigned', 'takeover', 'holding', 'resumed', 'reclaimed', 'done']);
    assert.deepEqual(d.get(r.id), r);
  });

  it('measures the traffic: the counter sampled around the resign, the watch frozen at it and ended before the resume', async () => {
    const v = new FakeVrrp(true, 20);
    const steps: string[] = [];
    let forwarded = 0;
    // This node forwards until the peer has taken over; after the resume it forwards again.
    const tick = setInterval(() => {
      if (v.st === 'master' || (v.resigned > 0 && steps.length < 2)) forwarded += 10;
    }, 5);
    const traffic: DrillTrafficSource = {
      forwarded: () => forwarded,
      watch: async (step) => {
        steps.push(`${step}:${v.st}:${v.resigned}`);
        return 3;
      },
      watchEnd: async () => {
        steps.push(`end:${v.st}:${v.resumed}`);
        return { candidates: 3, capped: false, flows: [{ flow: 'tcp 192.0.2.100:40000 -> 198.51.100.100:80', outcome: 'survived', peerRecords: 2, survivedAfterMs: 40 }] };
      },
    };
    const d = new DrillService({ vrrp: v, peerInSync: async () => true, publish: () => undefined, traffic, sampleMs: 10, beforeMs: 100, afterMs: 100 });
    const r = await d.start('resign', 0.1).done;
    clearInterval(tick);
    assert.equal(r.status, 'done');
    assert.deepEqual(steps, ['begin:master:0', 'freeze:master:0', 'end:initialize:0'], 'the watch is frozen before the resign and ended before the resume');
    const t = r.traffic!;
    assert.ok(t.beforePps > 0, 'traffic before the resign');
    assert.ok(t.timeline.t.length >= 10 && t.timeline.t.length === t.timeline.pps.length);
    assert.ok(t.timeline.t[0]! < 0 && t.timeline.t[t.timeline.t.length - 1]! > t.resumeMs!, 'from before the resign to after the resume');
    assert.ok(t.reclaimMs! >= t.resumeMs!);
    assert.deepEqual([t.flows.watched, t.flows.survived], [1, 1]);
    assert.match(t.note ?? '', /hold under 6 s/);
  });

  it('reports why flows were not watched, and still the timeline, when the datapath cannot watch', async () => {
    const v = new FakeVrrp(true, 5);
    const traffic: DrillTrafficSource = {
      forwarded: () => 0,
      watch: async () => {
        throw new Error('no flows to watch: conntrack and state sync are needed');
      },
      watchEnd: async () => {
        throw new Error('not called');
      },
    };
    const r = await new DrillService({ vrrp: v, peerInSync: async () => null, publish: () => undefined, traffic, sampleMs: 10, beforeMs: 30, afterMs: 30 }).start('resign', 0).done;
    assert.equal(r.traffic!.flows.error, 'no flows to watch: conntrack and state sync are needed');
    assert.ok(r.traffic!.timeline.t.length > 0);
  });

  it('without preemption stays backup after the hold', async () => {
    const v = new FakeVrrp(false, 5);
    const d = new DrillService({ vrrp: v, peerInSync: async () => null, publish: () => undefined });
    const r = await d.start('resign', 0).done;
    assert.equal(r.finalState, 'backup');
    assert.equal(r.reclaimMs, null);
    assert.equal(r.peerInSync, null);
  });

  it('resumes at once when no peer takes over, and says so', async () => {
    const v = new FakeVrrp(true, null);
    const phases: string[] = [];
    const d = new DrillService({ vrrp: v, peerInSync: async () => true, publish: (_t, e) => phases.push((e as { phase: string }).phase), takeoverTimeoutMs: 50 });
    const r = await d.start('resign', 10).done;
    assert.equal(r.takeover, null);
    assert.ok(phases.includes('no-takeover'));
    assert.equal(v.resumed, 1);
    assert.equal(r.finalState, 'master');
  });

  it('refuses on a backup and without VRRP', () => {
    const v = new FakeVrrp(true, 5);
    v.st = 'backup';
    assert.throws(() => new DrillService({ vrrp: v, peerInSync: async () => null, publish: () => undefined }).start('resign', 0), /backup, not master/);
    assert.throws(() => new DrillService({ vrrp: undefined, peerInSync: async () => null, publish: () => undefined }).start('resign', 0), /without VRRP/);
    assert.equal(v.resigned, 0);
  });

  it('resumes VRRP when resigning fails, so the node never stays out', async () => {
    const v = new FakeVrrp(true, 5);
    v.resign = async () => {
      throw new Error('socket closed');
    };
    const r = await new DrillService({ vrrp: v, peerInSync: async () => null, publish: () => undefined }).start('resign', 0).done;
    assert.equal(r.status, 'failed');
    assert.equal(r.error, 'socket closed');
    assert.equal(v.resumed, 1);
  });

  describe('with VRRP groups (active/active)', () => {
    /**
     * Two groups on a link: this node masters A (51) and, by default, B (52) too. The peer
     * advertises as master of every group this node does not master, every 5 ms, as a
     * real master does; a resigned group is taken over by the peer after `takeoverMs`.
     */
    class FakeGroups implements DrillVrrp {
      readonly preempt = true;
      readonly st = new Map<number, string>([[51, 'master'], [52, 'master']]);
      resignedWith: (readonly number[] | undefined)[] = [];
      private stopped: readonly number[] = [];
      private peerMasters = new Set<number>();
      private cbs = new Set<(from: string, priority: number, atMs: number, vrid?: number) => void>();
      private tick = setInterval(() => {
        for (const vrid of this.peerMasters) for (const cb of this.cbs) cb('192.0.2.3', 150, 0, vrid);
      }, 5);
      constructor(private readonly takeoverMs = 30) {}
      peerMaster(vrid: number): void {
        this.st.set(vrid, 'backup');
        this.peerMasters.add(vrid);
      }
      state(): string {
        return this.st.get(51)!;
      }
      groups() {
        return [{ name: 'a', vrid: 51, state: this.st.get(51)! }, { name: 'b', vrid: 52, state: this.st.get(52)! }];
      }
      async resign(vrids?: readonly number[]): Promise<void> {
        this.resignedWith.push(vrids);
        this.stopped = vrids ?? [51, 52];
        for (const v of this.stopped) {
          const wasMaster = this.st.get(v) === 'master';
          this.st.set(v, 'initialize');
          if (wasMaster) setTimeout(() => this.peerMasters.add(v), this.takeoverMs);
        }
      }
      resume(): void {
        for (const v of this.stopped) {
          this.st.set(v, 'backup');
          // Preemption: this node's higher priority takes its group back.
          setTimeout(() => {
            this.peerMasters.delete(v);
            this.st.set(v, 'master');
          }, 20);
        }
      }
      onAdvert(cb: (from: string, priority: number, atMs: number, vrid?: number) => void): () => void {
        this.cbs.add(cb);
        return () => this.cbs.delete(cb);
      }
      close(): void {
        clearInterval(this.tick);
      }
    }
    const service = (v: DrillVrrp, extra: Partial<ConstructorParameters<typeof DrillService>[0]> = {}) => new DrillService({ vrrp: v, peerInSync: async () => true, publish: () => undefined, ...extra });

    it('--group moves that group only: it alone resigns, its takeover is its own, the report says which groups moved', async () => {
      const v = new FakeGroups(30);
      try {
        const r = await service(v).start('resign', 0.05, 'a').done;
        assert.equal(r.status, 'done', r.error);
        assert.deepEqual(v.resignedWith, [[51]], 'only group a resigned');
        assert.deepEqual(r.group, { name: 'a', vrid: 51 });
        assert.ok(r.takeover !== null && r.takeover.ms >= 25, `the takeover is group a's (${JSON.stringify(r.takeover)})`);
        const byName = Object.fromEntries(r.groups!.map((g) => [g.name, g]));
        assert.equal(byName.a!.moved, true);
        assert.equal(byName.a!.drilled, true);
        assert.equal(byName.a!.takeover!.peer, '192.0.2.3');
        assert.deepEqual([byName.b!.moved, byName.b!.drilled, byName.b!.before, byName.b!.after], [false, false, 'master', 'master'], 'group b stayed here');
        assert.equal(r.finalState, 'master');
      } finally {
        v.close();
      }
    });

    it('by VRID too; refuses an unknown group (400, naming the groups) and a group it is not master of', () => {
      const v = new FakeGroups();
      try {
        v.peerMaster(52);
        assert.throws(() => service(v).start('resign', 0, 'c'), (e: DrillRefused) => e.status === 400 && /no VRRP group named or numbered "c".*a \(vrid 51\), b \(vrid 52\)/.test(e.message));
        assert.throws(() => service(v).start('resign', 0, 52), (e: DrillRefused) => e.status === 409 && /backup of group b/.test(e.message));
        assert.deepEqual(v.resignedWith, []);
        const { report, done } = service(v).start('resign', 0, 51);
        assert.deepEqual(report.group, { name: 'a', vrid: 51 });
        return done.then((r) => assert.deepEqual(v.resignedWith, [[51]], r.error));
      } finally {
        setTimeout(() => v.close(), 500);
      }
    });

    it('a whole-node drill waits for its own groups\' takeover: the peer\'s adverts for the group it masters anyway do not count', async () => {
      const v = new FakeGroups(60);
      try {
        v.peerMaster(52); // the peer masters b and advertises it all along
        const r = await service(v).start('resign', 0.05).done;
        assert.equal(r.status, 'done', r.error);
        assert.deepEqual(v.resignedWith, [undefined], 'the whole node resigned');
        assert.ok(r.takeover !== null && r.takeover.ms >= 50, `takeover after group a moved, not at b's first advert: ${JSON.stringify(r.takeover)}`);
        assert.deepEqual(r.groups!.map((g) => [g.name, g.drilled, g.moved]), [['a', true, true], ['b', true, false]]);
      } finally {
        v.close();
      }
    });

    it('splits the watched flows per group in the report', async () => {
      const v = new FakeGroups(10);
      const vrids: (readonly number[] | undefined)[] = [];
      const traffic: DrillTrafficSource = {
        forwarded: () => 0,
        watch: async (step, ids) => {
          if (step === 'begin') vrids.push(ids);
          return 1;
        },
        watchEnd: async () => ({ candidates: 2, capped: false, flows: [
          { flow: 'tcp 192.0.2.100:40000 -> 198.51.100.100:80', outcome: 'survived', peerRecords: 2, survivedAfterMs: 40, vrid: 51 },
          { flow: 'tcp 192.0.2.100:40001 -> 198.51.100.100:80', outcome: 'not-seen', peerRecords: 1, survivedAfterMs: null, vrid: 51 },
        ] }),
      };
      try {
        const r = await service(v, { traffic, sampleMs: 10, beforeMs: 20, afterMs: 20 }).start('resign', 0, 'a').done;
        assert.deepEqual(vrids, [[51]], 'the datapath watches group a\'s connections only');
        assert.deepEqual(r.groups!.map((g) => [g.name, g.flows]), [['a', { watched: 2, survived: 1, ended: 0, notSeen: 1 }], ['b', { watched: 0, survived: 0, ended: 0, notSeen: 0 }]]);
      } finally {
        v.close();
      }
    });
  });
});
