/**
 * @lab A master's VRRP advertisements keep their interval while its main thread is
 * blocked (a heavy ruleset parse/compile runs on that thread). Two
 * namespaces of this test's own joined by a veth: the master runs in one, tcpdump
 * captures its advertisements (kernel timestamps) in the other.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { COMPILED_ROOT } from './lab.js';
import { sh, shQuiet, sleep } from './exec.js';
import { DEFAULT_LIMITS } from '../node/ruleset/index.js';

const NS_A = 'hafw-vrrpw-a';
const NS_B = 'hafw-vrrpw-b';
const INTERVAL_MS = 100;
const BLOCK_MS = 300;

interface Run {
  code: number | null;
  out: string;
}

function run(argv: string[], ns: string, timeoutMs: number): { done: Promise<Run>; stop(): void; pid: number | undefined } {
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<Run>((resolve) => child.on('close', (code) => { clearTimeout(timer); resolve({ code, out }); }));
  return { done, stop: () => child.kill('SIGTERM'), pid: child.pid };
}

async function teardown(): Promise<void> {
  await shQuiet(['ip', 'netns', 'del', NS_A]);
  await shQuiet(['ip', 'netns', 'del', NS_B]);
}

describe('@lab VRRP advertisements during a main-thread stall', function () {
  this.timeout(60000);
  before(async () => {
    await teardown();
    await sh(['ip', 'netns', 'add', NS_A]);
    await sh(['ip', 'netns', 'add', NS_B]);
    await sh(['ip', '-n', NS_A, 'link', 'add', 'vs0', 'type', 'veth', 'peer', 'name', 'vs1', 'netns', NS_B]);
    await sh(['ip', '-n', NS_A, 'addr', 'add', '192.0.2.1/24', 'dev', 'vs0']);
    await sh(['ip', '-n', NS_B, 'addr', 'add', '192.0.2.2/24', 'dev', 'vs1']);
    for (const [ns, dev] of [[NS_A, 'vs0'], [NS_B, 'vs1']] as const) {
      await sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      await sh(['ip', '-n', ns, 'link', 'set', dev, 'up']);
    }
  });
  after(teardown);

  /** Runs the stalling master, captures its advertisements; times in wall-clock ms. */
  async function stallRun(blockMs: number | 'ruleset', stallLimitMs?: number) {
    const capture = run(['tcpdump', '-i', 'vs1', '-n', '-tt', '-l', '-U', 'ip proto 112'], NS_B, 30000);
    await sleep(1000); // tcpdump attaches
    const args = ['vs0', '192.0.2.100/24', String(INTERVAL_MS), String(blockMs), ...(stallLimitMs ? [String(stallLimitMs)] : [])];
    const master = run([process.execPath, path.join(COMPILED_ROOT, 'cluster-tests', 'tools', 'vrrp-stall.js'), ...args], NS_A, 20000);
    const m = await master.done;
    await sleep(300);
    capture.stop();
    const c = await capture.done;
    assert.equal(m.code, 0, m.out);
    const events = new Map<string, number>();
    for (const line of m.out.split('\n')) {
      if (!line.startsWith('{')) continue;
      const e = JSON.parse(line) as { event: string; at: number };
      events.set(e.event, e.at);
    }
    const from = events.get('master')!;
    const to = events.get('stopping')!;
    const blockStart = events.get('blockStart')!;
    const blockEnd = events.get('blockEnd')!;
    assert.ok(from && to && blockStart && blockEnd, m.out);
    // "1765112345.123456 IP 192.0.2.1 > 224.0.0.18: VRRPv3, Advertisement, vrid 51, prio 200, intvl 10cs, length 12"
    const ours = c.out.split('\n').filter((l) => /IP 192\.0\.2\.1 > 224\.0\.0\.18: VRRPv3, Advertisement, vrid 51/.test(l));
    const adverts = ours
      .filter((l) => / prio 200,/.test(l))
      .map((l) => Number(l.split(' ')[0]) * 1000)
      .filter((t) => t >= from - 5 && t <= to + 5);
    assert.ok(adverts.length >= 5, `adverts captured while master: ${adverts.length}\n${c.out}`);
    let maxGap = 0;
    let minGap = Infinity;
    for (let i = 1; i < adverts.length; i++) {
      maxGap = Math.max(maxGap, adverts[i]! - adverts[i - 1]!);
      minGap = Math.min(minGap, adverts[i]! - adverts[i - 1]!);
    }
    const during = adverts.filter((t) => t > blockStart && t < blockEnd);
    const detail = `block ${Math.round(blockEnd - blockStart)} ms, ${during.length} adverts during it, gaps ${Math.round(minGap)}-${Math.round(maxGap)} ms, ${adverts.length} adverts in ${Math.round(to - from)} ms`;
    process.stdout.write(`      ${detail}\n`);
    return { masterMs: to - from, ours, adverts, during, maxGap, minGap, blockStart, blockEnd, detail, log: m.out };
  }

  it(`a master blocked for ${BLOCK_MS} ms keeps sending every ${INTERVAL_MS} ms (no gap over two intervals)`, async () => {
    const r = await stallRun(BLOCK_MS);
    // Delayed by at most one interval (well inside the three intervals a backup waits before taking over): no gap reaches two intervals.
    assert.ok(r.maxGap < 2 * INTERVAL_MS, r.detail);
    assert.ok(r.during.length >= 2, r.detail);
    // Nothing sent twice (the control thread's timer and the sender thread both sending):
    // one advertisement an interval. (A late wake-up of the sender shortens the next gap:
    // it keeps its schedule.)
    assert.ok(r.adverts.length <= r.masterMs / INTERVAL_MS + 2, r.detail);
    assert.ok(r.minGap > INTERVAL_MS / 5, r.detail);
    // The resign's priority-0 advertisement is the last one: no repeated one follows it.
    assert.match(r.ours.at(-1) ?? '', /prio 0,/, r.ours.slice(-3).join('\n'));
  });

  it(`a master loading the largest ruleset the caps accept (a ${DEFAULT_LIMITS.maxElements}-element set) keeps sending every ${INTERVAL_MS} ms`, async () => {
    const r = await stallRun('ruleset');
    assert.ok(r.blockEnd - r.blockStart > 2 * INTERVAL_MS, `the load took only ${r.blockEnd - r.blockStart} ms: no stall to test`);
    assert.ok(r.maxGap < 2 * INTERVAL_MS, r.detail);
    assert.ok(r.adverts.length <= r.masterMs / INTERVAL_MS + 2, r.detail);
  });

  it('a control thread stalled beyond controlStallLimitMs silences the master until it runs again', async () => {
    const limit = 400;
    const r = await stallRun(1500, limit);
    // Advertising goes on for the limit, then stops for the rest of the stall.
    const early = r.during.filter((t) => t < r.blockStart + limit);
    const late = r.during.filter((t) => t > r.blockStart + limit + INTERVAL_MS);
    assert.ok(early.length >= 2, r.detail);
    assert.deepEqual(late, [], r.detail);
    assert.ok(r.maxGap > 900, r.detail);
    assert.match(r.log, /stalled beyond vrrp\.controlStallLimitMs/);
    // And resumes once the thread runs again.
    assert.ok(r.adverts.some((t) => t > r.blockEnd), r.detail);
  });
});
