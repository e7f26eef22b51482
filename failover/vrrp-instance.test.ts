import assert from 'node:assert/strict';
import { parseMac } from './garp.js';
import { ip, IpBytes, formatIp } from './ip-address.js';
import { AdvertCopy, AdvertOutcome, AdvertRepeater, LinkStateSource, ManualClock, SyncReadinessSource } from './ports.js';
import { parseVip, Vip, VipMover } from './vip-group.js';
import { decode } from './vrrp-packet.js';
import { VrrpInstance, VrrpInstanceConfig, VrrpInstanceEvent } from './vrrp-instance.js';
import { takeoverPhases } from './takeover.js';

const flush = () => new Promise<void>((r) => setImmediate(r));

class FakeSync implements SyncReadinessSource {
  inSync: boolean;
  private cbs: ((v: boolean) => void)[] = [];
  constructor(v: boolean) { this.inSync = v; }
  onChange(cb: (v: boolean) => void) { this.cbs.push(cb); return () => { this.cbs = this.cbs.filter((c) => c !== cb); }; }
  set(v: boolean) { this.inSync = v; for (const c of this.cbs) c(v); }
}
class FakeLinks implements LinkStateSource {
  down = new Set<string>();
  private cbs: ((n: string, up: boolean) => void)[] = [];
  isUp(n: string) { return !this.down.has(n); }
  onChange(cb: (n: string, up: boolean) => void) { this.cbs.push(cb); return () => {}; }
  set(n: string, up: boolean) { if (up) this.down.delete(n); else this.down.add(n); for (const c of this.cbs) c(n, up); }
}

interface Box {
  inst: VrrpInstance;
  held: Set<string>;
  frames: { at: number; ifname: string; frame: Uint8Array }[];
  sent: { dst: string; bytes: Uint8Array }[];
  events: VrrpInstanceEvent[];
  alive: boolean;
  /** Set: the socket refuses every send with this error (ENOBUFS, an output filter...). */
  sendError?: string;
}

const vips: Vip[] = [parseVip('lan', '192.0.2.1/24')!, parseVip('wan', '198.51.100.1/24')!];

/** Two instances on one simulated segment: bytes cross through the codec. */
function pair(clock: ManualClock, cfgs: Partial<VrrpInstanceConfig>[], extra: { sync?: FakeSync; links?: FakeLinks }[] = []): Box[] {
  const boxes: Box[] = [];
  cfgs.forEach((c, i) => {
    const primary = ip(`192.0.2.${2 + i}`);
    const box: Box = { held: new Set(), frames: [], sent: [], events: [], alive: true } as unknown as Box;
    const mover: VipMover = {
      add: async (v) => { box.held.add(v.cidr); },
      remove: async (v) => { box.held.delete(v.cidr); },
    };
    box.inst = new VrrpInstance({
      name: `vi${i}`, family: 4, vrid: 51, priority: 100, advertIntervalCs: 10, primaryAddress: primary, vips, ...c,
    }, {
      clock, vipMover: mover,
      macOf: (n) => parseMac(n === 'lan' ? `02:00:00:00:0${i}:01` : `02:00:00:00:0${i}:02`),
      frames: { sendFrame: (ifname, frame) => box.frames.push({ at: clock.now(), ifname, frame }) },
      packets: {
        sendAdvert: (payload: Uint8Array, dst: IpBytes) => {
          if (!box.alive) return;
          if (box.sendError) throw new Error(box.sendError);
          const bytes = Uint8Array.from(payload); // the instance reuses its buffer
          box.sent.push({ dst: formatIp(dst), bytes });
          for (const other of boxes) {
            if (other === box) continue;
            clock.setTimer(clock.now() + 0.1, () => { if (other.alive) other.inst.receive(bytes, { src: primary, dst, ttl: 255 }); });
          }
        },
      },
      sync: extra[i]?.sync, links: extra[i]?.links,
    });
    box.inst.on((e) => box.events.push(e));
    boxes.push(box);
  });
  return boxes;
}

async function run(clock: ManualClock, ms: number, step = 5): Promise<void> {
  const end = clock.now() + ms;
  while (clock.now() < end) { clock.advanceTo(Math.min(end, clock.now() + step)); await flush(); }
}

describe('vrrp-instance (shell over ports)', () => {
  it('elects one master, which adds the whole VIP group and sends GARP rounds on both interfaces', async () => {
    const clock = new ManualClock();
    const [a, b] = pair(clock, [{ priority: 200, announce: { repeat: 3, spacingMs: 50 } }, { priority: 100 }]);
    a!.inst.start(); b!.inst.start();
    await run(clock, 1_000);
    assert.equal(a!.inst.state, 'master');
    assert.equal(b!.inst.state, 'backup');
    assert.deepEqual([...a!.held].sort(), ['192.0.2.1/24', '198.51.100.1/24']);
    assert.equal(b!.held.size, 0);
    // 3 rounds x 2 VIPs, 50 ms apart, on lan and wan
    assert.equal(a!.frames.length, 6);
    assert.deepEqual(a!.frames.map((f) => f.ifname), ['lan', 'wan', 'lan', 'wan', 'lan', 'wan']);
    assert.equal(a!.frames[2]!.at - a!.frames[0]!.at, 50);
    // what went on the wire decodes with the RFC checksum and lists the IPv4 VIPs
    const d = decode(a!.sent[0]!.bytes, { src: ip('192.0.2.2'), dst: ip('224.0.0.18') });
    assert.ok(d.ok);
    assert.equal(d.packet.addresses.length, 2);
    assert.equal(a!.sent[0]!.dst, '224.0.0.18');
  });

  it('graceful stop resigns with priority 0 and the peer takes the VIPs after Skew_Time', async () => {
    const clock = new ManualClock();
    const [a, b] = pair(clock, [{ priority: 200 }, { priority: 100 }]);
    a!.inst.start(); b!.inst.start();
    await run(clock, 1_000);
    const t0 = clock.now();
    await a!.inst.stop();
    assert.equal(a!.held.size, 0);
    const last = decode(a!.sent.at(-1)!.bytes, { src: ip('192.0.2.2'), dst: ip('224.0.0.18') });
    assert.ok(last.ok && last.packet.priority === 0);
    await run(clock, 200, 0.5);
    assert.equal(b!.inst.state, 'master');
    const st = b!.events.find((e) => e.type === 'state' && e.to === 'master')!;
    // Skew_Time for priority 100 at 10 cs: 156/256 * 100 ms = 60.9 ms (plus 0.1 ms wire)
    assert.ok(st.type === 'state' && st.reason === 'peerResigned', JSON.stringify(st));
    assert.ok(Math.abs(st.at - t0 - 0.1 - 60.9375) < 0.6, `took over after ${st.at - t0} ms`);
    assert.equal(b!.held.size, 2);
  });

  it('a takeover after the master dies reports the time of each step (takeover event, lastTakeover)', async () => {
    const clock = new ManualClock();
    const [a, b] = pair(clock, [{ priority: 200 }, { priority: 100 }]);
    a!.inst.start(); b!.inst.start();
    await run(clock, 1_000);
    assert.equal(b!.inst.lastTakeover, undefined);
    a!.alive = false;
    await run(clock, 500, 0.5);
    assert.equal(b!.inst.state, 'master');
    const ev = b!.events.find((e) => e.type === 'takeover');
    assert.ok(ev && ev.type === 'takeover');
    const t = ev.timing;
    assert.equal(t.reason, 'masterDown');
    assert.deepEqual(b!.inst.lastTakeover, t);
    const p = takeoverPhases(t);
    // Master_Down_Interval for priority 100 at 10 cs: 300 + 60.9375 ms, from the last advertisement.
    assert.equal(p.detect_ms, 360.94);
    assert.ok(p.timer_late_ms >= 0 && p.timer_late_ms <= 0.5, `late ${p.timer_late_ms}`);
    // Advertisement and announcement in the same turn as the state change; the VIPs once the mover answered.
    assert.equal(p.advert_ms, 0);
    assert.equal(p.announce_ms, 0);
    assert.ok(p.vips_ms !== null && p.vips_ms >= 0);
    assert.equal(t.vipsFailed, 0);
    assert.equal(b!.events.filter((e) => e.type === 'takeover').length, 1);
  });

  it('a taking-over backup has its first GARPs and advertisement out before any state listener runs (the node\'s listeners: logs, events, the datapath)', async () => {
    const clock = new ManualClock();
    const [a, b] = pair(clock, [{ priority: 200 }, { priority: 100 }]);
    const seen: { frames: string[]; adverts: number }[] = [];
    b!.inst.on((e) => {
      if (e.type === 'state' && e.to === 'master') seen.push({ frames: b!.frames.map((f) => f.ifname), adverts: b!.sent.length });
    });
    a!.inst.start(); b!.inst.start();
    await run(clock, 1_000);
    a!.alive = false;
    await run(clock, 500, 0.5);
    assert.equal(b!.inst.state, 'master');
    // The announcement and the advertisement went out in the timer's turn, before the state
    // event (the VIPs, an `ip` process in the node, are asked for first but not waited for).
    assert.deepEqual(seen, [{ frames: ['lan', 'wan'], adverts: 1 }]);
  });

  it('a backup arms its Master_Down_Timer precise; a master its advertisement timer not', async () => {
    const clock = new ManualClock();
    // One announcement round, so that only the instances' own timers are left pending.
    const [a, b] = pair(clock, [{ priority: 200, announce: { repeat: 1 } }, { priority: 100 }]);
    a!.inst.start(); b!.inst.start();
    await run(clock, 1_000);
    a!.alive = false;
    b!.alive = false;
    const pending = clock.pending;
    // One timer each (wire deliveries aside: none pending once both are silent and drained).
    assert.deepEqual(pending.map((p) => p.precise).sort(), [false, true]);
    const master = pending.find((p) => !p.precise)!;
    const backup = pending.find((p) => p.precise)!;
    assert.ok(master.at - clock.now() <= 100, 'the master timer is the advertisement interval');
    assert.ok(backup.at - clock.now() > 100, 'the backup timer is Master_Down_Interval');
  });

  it('a send error is counted (not as sent), raises an alarm after three in a row, and the demoted master yields its VIPs', async () => {
    const clock = new ManualClock();
    const [a, b] = pair(clock, [{ priority: 200 }, { priority: 100 }]);
    a!.inst.start(); b!.inst.start();
    await run(clock, 1_000);
    assert.equal(a!.inst.state, 'master');
    const sentBefore = a!.inst.counters.advertsSent;
    a!.sendError = 'sendto: No buffer space available';
    await run(clock, 1_000);
    assert.equal(a!.inst.counters.advertsSent, sentBefore);
    assert.ok(a!.inst.counters.advertSendErrors >= 3, `${a!.inst.counters.advertSendErrors} send errors`);
    const alarms = a!.events.filter((e) => e.type === 'alarm');
    assert.deepEqual(alarms.map((e) => e.type === 'alarm' && [e.code, e.failures, e.error, e.active]), [['sendErrors', 3, 'sendto: No buffer space available', true]]);
    assert.equal(a!.inst.state, 'backup');
    assert.equal(a!.held.size, 0);
    assert.equal(b!.inst.state, 'master');
    assert.equal(b!.held.size, 2);
  });

  it('an IPv6 instance advertises its IPv6 VIPs from the link-local address and announces with NAs', async () => {
    const clock = new ManualClock();
    const sent: { payload: Uint8Array; dst: string }[] = [];
    const frames: Uint8Array[] = [];
    const v6vips = [parseVip('lan', '2001:db8::1/64')!, parseVip('lan', '192.0.2.1/24')!];
    const inst = new VrrpInstance({ name: 'v6', family: 6, vrid: 9, priority: 255, advertIntervalCs: 10, primaryAddress: ip('fe80::2'), vips: v6vips, announce: { repeat: 1 } }, {
      clock, vipMover: { add: async () => {}, remove: async () => {} }, macOf: () => parseMac('02:00:00:00:00:09'),
      frames: { sendFrame: (_i, f) => frames.push(f) },
      packets: { sendAdvert: (p, dst) => sent.push({ payload: Uint8Array.from(p), dst: formatIp(dst) }) },
    });
    inst.start();
    await flush();
    assert.equal(inst.state, 'master');
    assert.equal(sent[0]!.dst, 'ff02::12');
    const d = decode(sent[0]!.payload, { src: ip('fe80::2'), dst: ip('ff02::12') });
    assert.ok(d.ok);
    assert.deepEqual(d.packet.addresses.map(formatIp), ['2001:db8::1']);
    // both VIPs of the group are announced: one NA (86 bytes) and one GARP (60 bytes)
    assert.deepEqual(frames.map((f) => f.length).sort(), [60, 86]);
  });

  it('sends one copy per unicast peer, each with its own pseudo-header checksum', async () => {
    const clock = new ManualClock();
    const peers = [ip('192.0.2.3'), ip('192.0.2.4')];
    const [a] = pair(clock, [{ priority: 255, unicastPeers: peers }]);
    a!.inst.start();
    await flush();
    assert.deepEqual(a!.sent.map((s) => s.dst), ['192.0.2.3', '192.0.2.4']);
    for (const s of a!.sent) assert.ok(decode(s.bytes, { src: ip('192.0.2.2'), dst: ip(s.dst) }).ok);
    assert.notDeepEqual(a!.sent[0]!.bytes, a!.sent[1]!.bytes);
  });

  it('a node not in sync stays backup until the sync source reports readiness, then preempts', async () => {
    const clock = new ManualClock();
    const sync = new FakeSync(false);
    const [a, b] = pair(clock, [{ priority: 200 }, { priority: 100 }], [{ sync }, {}]);
    b!.inst.start();
    await run(clock, 500);
    a!.inst.start();
    await run(clock, 3_000);
    assert.equal(a!.inst.state, 'backup');
    assert.equal(a!.held.size, 0);
    sync.set(true);
    await run(clock, 1_000);
    assert.equal(a!.inst.state, 'master');
    assert.equal(b!.inst.state, 'backup');
    assert.equal(b!.held.size, 0);
  });

  it('rejects malformed and foreign packets with an event and counts them, without throwing', async () => {
    const clock = new ManualClock();
    const [a] = pair(clock, [{ priority: 100 }]);
    a!.inst.start();
    a!.inst.receive(Uint8Array.of(1, 2, 3), { src: ip('192.0.2.9'), dst: ip('224.0.0.18'), ttl: 255 });
    a!.inst.receiveIpv4(new Uint8Array(10));
    a!.inst.receive(new Uint8Array(16), { src: ip('192.0.2.9'), dst: ip('224.0.0.18'), ttl: 64 });
    assert.equal(a!.inst.counters.advertsRejected, 3);
    const codes = a!.events.filter((e) => e.type === 'rejected').map((e) => e.type === 'rejected' && e.error.code);
    assert.deepEqual(codes, ['truncated', 'truncated', 'badTtl']);
  });

  it('a tracked WAN link down at start keeps the node out of service; link up brings it in', async () => {
    const clock = new ManualClock();
    const links = new FakeLinks();
    links.down.add('wan');
    const [a] = pair(clock, [{ priority: 100, tracks: [{ name: 'wan', role: 'wan' }, { name: 'sync', role: 'sync' }] }], [{ links }]);
    a!.inst.start();
    await run(clock, 1_000);
    assert.equal(a!.inst.state, 'initialize');
    links.set('sync', false);
    assert.ok(a!.events.some((e) => e.type === 'alarm' && e.link === 'sync' && e.active));
    links.set('wan', true);
    await run(clock, 1_000);
    assert.equal(a!.inst.state, 'master');
  });

  it('reads queued advertisements before acting on an expired Master_Down_Timer (no false takeover after a stall)', async () => {
    for (const drain of [false, true]) {
      const clock = new ManualClock();
      const queue: { bytes: Uint8Array; src: IpBytes; dst: IpBytes }[] = [];
      const mk = (prio: number, primary: IpBytes, deliver: (b: Uint8Array, dst: IpBytes) => void, drainFn?: () => void) => new VrrpInstance(
        { name: 'x', family: 4, vrid: 51, priority: prio, advertIntervalCs: 1, primaryAddress: primary, vips },
        { clock, vipMover: { add: async () => {}, remove: async () => {} }, macOf: () => undefined, frames: { sendFrame: () => {} },
          packets: { sendAdvert: (p, dst) => deliver(Uint8Array.from(p), dst), ...(drainFn ? { drainReceived: drainFn } : {}) } });
      let backup: VrrpInstance | undefined;
      let stalled = false;
      const master = mk(200, ip('192.0.2.2'), (bytes, dst) => {
        // while the backup's loop is stalled its packets wait in the socket buffer
        if (stalled) queue.push({ bytes, src: ip('192.0.2.2'), dst });
        else backup?.receive(bytes, { src: ip('192.0.2.2'), dst, ttl: 255 });
      });
      const drainFn = () => { for (const q of queue.splice(0)) backup!.receive(q.bytes, { src: q.src, dst: q.dst, ttl: 255 }); };
      backup = mk(100, ip('192.0.2.3'), () => {}, drain ? drainFn : undefined);
      master.start(); backup.start();
      await run(clock, 500, 1);
      assert.equal(backup.state, 'backup');
      // The backup's loop stalls: the master keeps advertising into its socket buffer,
      // and when the loop resumes the timer phase runs before the socket is read.
      stalled = true;
      await run(clock, 100, 1);
      assert.equal(backup.state, drain ? 'backup' : 'master', `drain ${drain}`);
    }
  });

  it('stops announcing when it loses mastership mid-schedule', async () => {
    const clock = new ManualClock();
    const [a, b] = pair(clock, [{ priority: 100, announce: { repeat: 10, spacingMs: 100 } }, { priority: 200 }]);
    a!.inst.start();
    await run(clock, 500);
    assert.equal(a!.inst.state, 'master');
    const before = a!.frames.length;
    b!.inst.start();
    await run(clock, 2_000);
    assert.equal(a!.inst.state, 'backup');
    const leftAt = a!.events.find((e) => e.type === 'state' && e.from === 'master' && e.to === 'backup')!.at;
    assert.ok(a!.frames.every((f) => f.at <= leftAt), 'no frame after stepping down');
    assert.ok(a!.frames.length < 20 && before > 0);
  });

  describe('with an advertisement repeater (a master keeps advertising while this thread stalls)', () => {
    /** A repeater whose "thread" runs on the manual clock; logs what the instance asks of it. */
    class FakeRepeater implements AdvertRepeater {
      log: string[] = [];
      alive = true;
      fail?: string;
      private current?: { copies: AdvertCopy[]; intervalMs: number };
      private timer: unknown;
      private cbs: ((o: AdvertOutcome) => void)[] = [];
      constructor(private readonly clock: ManualClock) {}
      get repeating(): boolean { return this.alive && this.current !== undefined; }
      repeat(copies: readonly AdvertCopy[], intervalMs: number): AdvertOutcome {
        this.current = { copies: copies.map((c) => ({ dst: c.dst, payload: Uint8Array.from(c.payload) })), intervalMs };
        this.log.push(`repeat ${copies[0]!.payload[2]}`);
        this.arm();
        return this.send();
      }
      stop(): void {
        if (this.current) this.log.push('stop');
        this.current = undefined;
        if (this.timer !== undefined) this.clock.clearTimer(this.timer);
      }
      onOutcome(cb: (o: AdvertOutcome) => void): () => void { this.cbs.push(cb); return () => { this.cbs = this.cbs.filter((c) => c !== cb); }; }
      private arm(): void {
        if (this.timer !== undefined) this.clock.clearTimer(this.timer);
        this.timer = this.clock.setTimer(this.clock.now() + this.current!.intervalMs, () => {
          if (!this.current || !this.alive) return;
          this.log.push('tick');
          const o = this.send();
          for (const c of this.cbs) c(o);
          this.arm();
        });
      }
      private send(): AdvertOutcome {
        return this.fail ? { sent: 0, failed: 1, error: this.fail } : { sent: this.current!.copies.length, failed: 0 };
      }
    }

    function alone(clock: ManualClock, repeater: FakeRepeater) {
      const sent: number[] = [];
      const events: VrrpInstanceEvent[] = [];
      const inst = new VrrpInstance({ name: 'r', family: 4, vrid: 51, priority: 200, advertIntervalCs: 10, primaryAddress: ip('192.0.2.2'), vips }, {
        clock, vipMover: { add: async () => {}, remove: async () => {} }, macOf: () => undefined, frames: { sendFrame: () => {} },
        packets: { sendAdvert: (payload) => { sent.push(payload[2]!); repeater.log.push(`packet ${payload[2]}`); } },
        repeater,
      });
      inst.on((e) => events.push(e));
      return { inst, sent, events };
    }

    it('a master hands its advertisement to the repeater once and does not send the periodic ones itself', async () => {
      const clock = new ManualClock();
      const rep = new FakeRepeater(clock);
      const { inst, sent } = alone(clock, rep);
      inst.start();
      await run(clock, 1_000);
      assert.equal(inst.state, 'master');
      assert.deepEqual(sent, [], 'nothing sent from the instance itself while master');
      assert.equal(rep.log[0], 'repeat 200');
      assert.deepEqual(new Set(rep.log.slice(1)), new Set(['tick']));
      // Every repeated send is counted as sent (one copy each).
      assert.equal(inst.counters.advertsSent, rep.log.length);
    });

    it('resigning stops the repeater before the priority-0 advertisement goes out', async () => {
      const clock = new ManualClock();
      const rep = new FakeRepeater(clock);
      const { inst } = alone(clock, rep);
      inst.start();
      await run(clock, 1_000);
      await inst.stop();
      assert.deepEqual(rep.log.slice(-2), ['stop', 'packet 0']);
      rep.log.length = 0;
      await run(clock, 500);
      assert.deepEqual(rep.log, [], 'nothing repeated after the resign');
    });

    it('a priority change replaces the repeated advertisement at once', async () => {
      const clock = new ManualClock();
      const rep = new FakeRepeater(clock);
      const links = new FakeLinks();
      const inst = new VrrpInstance({ name: 'r', family: 4, vrid: 51, priority: 200, advertIntervalCs: 10, primaryAddress: ip('192.0.2.2'), vips, tracks: [{ name: 'wan', role: 'wan', onDown: 50 }] }, {
        clock, vipMover: { add: async () => {}, remove: async () => {} }, macOf: () => undefined, frames: { sendFrame: () => {} },
        packets: { sendAdvert: () => assert.fail('a master sends through the repeater') }, repeater: rep, links,
      });
      inst.start();
      await run(clock, 1_000);
      links.set('wan', false);
      assert.equal(rep.log.at(-1), 'repeat 150');
    });

    it('failures of repeated sends are counted and demote the master after three in a row', async () => {
      const clock = new ManualClock();
      const rep = new FakeRepeater(clock);
      const { inst, events } = alone(clock, rep);
      inst.start();
      await run(clock, 1_000);
      const sentBefore = inst.counters.advertsSent;
      rep.fail = 'sendto: No buffer space available';
      await run(clock, 350);
      assert.equal(inst.counters.advertsSent, sentBefore);
      assert.ok(inst.counters.advertSendErrors >= 3, `${inst.counters.advertSendErrors} send errors`);
      const alarm = events.find((e) => e.type === 'alarm');
      assert.ok(alarm && alarm.type === 'alarm' && alarm.active && alarm.failures === 3 && alarm.error === rep.fail, JSON.stringify(alarm));
      assert.equal(inst.router.effectivePriority, 1);
      assert.ok(rep.log.includes('repeat 1'), 'the demoted priority is what gets repeated');
    });

    it('when the repeater\'s thread is gone, the instance\'s own timer sends each periodic advertisement through it', async () => {
      const clock = new ManualClock();
      const rep = new FakeRepeater(clock);
      const { inst, sent } = alone(clock, rep);
      inst.start();
      await run(clock, 1_000);
      rep.alive = false;
      rep.log.length = 0;
      const before = inst.counters.advertsSent;
      await run(clock, 1_000);
      assert.deepEqual(sent, []);
      assert.ok(rep.log.length >= 9 && rep.log.every((l) => l === 'repeat 200'), rep.log.join());
      assert.equal(inst.counters.advertsSent - before, rep.log.length);
    });
  });
});
