import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { NotWriterError, type DistEvent, type DistOptions, type RulesetDistributor } from './distributor.js';
import { DistRunner } from './runner.js';
import { STREAM_HEAD_BYTES, encodeFrame, encodeStreamFrame } from './codec.js';
import { MSG_ANNOUNCE, MSG_FETCH_REQ, MSG_UPDATE, type DistRole } from './messages.js';
import { MemoryNet } from './testing/memory-transport.js';
import { FakeStore } from './testing/fake-store.js';
import { VirtualClock, settleCores } from './testing/virtual-clock.js';

const key = new Uint8Array(32).fill(3);
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

interface TestNode {
  name: string;
  role: DistRole;
  store: FakeStore;
  dist: RulesetDistributor;
  runner: DistRunner;
  events: DistEvent[];
  start(sourceHash?: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Every node runs on one virtual clock over an in-memory network on the same clock: time
 * moves only through clock.advance() and clock.until(), which fire the announce timers and
 * datagram deliveries in order and let each node's applies finish in between.
 */
describe('ruleset distribution protocol (in-memory network, virtual time)', () => {
  let nodes: TestNode[] = [];
  let net: MemoryNet;
  let clock: VirtualClock;
  let epoch = 1;
  const waitFor = (what: string, cond: () => boolean, ms?: number): Promise<void> => clock.until(what, cond, ms);

  function node(name: string, role: DistRole, text: string, extra: Partial<DistOptions> = {}): TestNode {
    const store = new FakeStore(text);
    const n = { name, role, store, events: [] } as unknown as TestNode;
    n.runner = new DistRunner(
      {
        nodeId: name.charCodeAt(name.length - 1), name, epoch: epoch++, key, announceIntervalMs: 40, startupGraceMs: 150, driftGraceMs: 400, fetchTimeoutMs: 500,
        role: () => n.role, ...extra,
      },
      store,
      net.transport(`10.0.0.${name.charCodeAt(name.length - 1)}`),
      quiet,
      clock,
    );
    n.dist = n.runner.core;
    n.start = (sourceHash) => n.runner.start(sourceHash);
    n.stop = async () => {
      await n.runner.stop();
      nodes = nodes.filter((x) => x !== n);
    };
    n.dist.onEvent((e) => n.events.push(e));
    nodes.push(n);
    return n;
  }

  const converged = (...ns: TestNode[]) => ns.every((n) => n.dist.currentVersion() === ns[0]!.dist.currentVersion() && n.dist.currentHash() === ns[0]!.dist.currentHash());

  beforeEach(() => {
    clock = new VirtualClock();
    clock.settle = settleCores(() => nodes.map((n) => n.dist));
    net = new MemoryNet({ seed: 7, clock });
    nodes = [];
  });
  afterEach(async () => {
    for (const n of [...nodes]) await n.stop();
  });

  /**
   * Stops the nodes first: a version made just before the end of a test may still be
   * being written into the directory (removing it then fails with ENOTEMPTY).
   */
  async function removeStateDir(dir: string): Promise<void> {
    for (const n of [...nodes]) await n.stop();
    rmSync(dir, { recursive: true, force: true });
  }

  it('a transaction on the master becomes the next version and reaches the backup by UPDATE (ops applied, same hash)', async () => {
    const a = node('fwa', 'master', 'r1');
    const b = node('fwb', 'backup', 'r1');
    await a.start();
    await b.start();
    await waitFor('both ready', () => a.dist.isReady() && b.dist.isReady());
    const fetchesBefore = b.dist.counters.fetches;
    const r = await a.dist.write(a.store.tx({ add: ['r2'] }), { add: ['r2'] }, 'transaction');
    assert.equal(r.version, 2);
    await waitFor('backup at version 2', () => b.dist.currentVersion() === 2);
    assert.deepEqual(b.store.lines, ['r1', 'r2']);
    assert.equal(b.dist.currentHash(), a.dist.currentHash());
    assert.equal(b.dist.counters.updatesApplied, 1);
    assert.equal(b.dist.counters.fetches, fetchesBefore, 'no full fetch needed');
    assert.ok(b.events.some((e) => e.event === 'version' && e.version === 2 && e.via === 'update'));
    assert.deepEqual(b.dist.listHistory().map((h) => h.version), [1, 2]);
  });

  it('a backup that hears the master refuses writes and names the master', async () => {
    const a = node('fwa', 'master', 'r1');
    const b = node('fwb', 'backup', 'r1');
    await a.start();
    await b.start();
    await waitFor('backup heard the master', () => b.dist.status().master === 'fwa');
    await assert.rejects(() => b.dist.write(b.store.tx({ add: ['x'] }), { add: ['x'] }, 'tx'), (e: unknown) => e instanceof NotWriterError && e.master === 'fwa' && /fwa/.test(e.message));
    assert.deepEqual(b.store.lines, ['r1'], 'nothing applied');
    assert.equal(b.dist.status().writable, false);
    assert.equal(a.dist.status().writable, true);
  });

  it('converges on a lossy, reordering, duplicating network: every node ends at the last version and hash', async () => {
    net.opts = { loss: 0.3, duplicate: 0.1, jitterMs: 15 };
    const a = node('fwa', 'master', 'base');
    const b = node('fwb', 'backup', 'base');
    const c = node('fwc', 'backup', 'base');
    for (const n of [a, b, c]) await n.start();
    for (let i = 0; i < 12; i++) {
      const ops = i % 3 === 2 ? { del: [`e${i - 1}`] } : { add: [`e${i}`] };
      await a.dist.write(a.store.tx(ops), ops, `tx ${i}`);
      await clock.advance(3);
    }
    await waitFor('all converged at version 13', () => converged(a, b, c) && a.dist.currentVersion() === 13);
    assert.deepEqual(b.store.lines, a.store.lines);
    assert.deepEqual(c.store.lines, a.store.lines);
    assert.ok(net.lost > 0, 'the network did lose datagrams');
  });

  it('a node restarted from its stored older version fetches the current one and only then is ready', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hafw-dist-'));
    try {
      const a = node('fwa', 'master', 'r1');
      let b = node('fwb', 'backup', 'r1', { stateDir: dir });
      await a.start();
      await b.start();
      await a.dist.write(a.store.tx({ add: ['r2'] }), { add: ['r2'] }, 'tx');
      await waitFor('b at 2', () => b.dist.currentVersion() === 2);
      await b.stop();
      await a.dist.write(a.store.tx({ add: ['r3'] }), { add: ['r3'] }, 'tx');
      await a.dist.write(a.store.tx({ add: ['r4'] }), { add: ['r4'] }, 'tx');
      // Restart with the original file: the stored version 2 comes back first.
      b = node('fwb', 'backup', 'r1', { stateDir: dir });
      const readyAt: number[] = [];
      b.dist.onReadyChange(() => readyAt.push(b.dist.currentVersion()));
      await b.start();
      assert.equal(b.dist.currentVersion(), 2, 'stored version restored');
      assert.deepEqual(b.store.lines, ['r1', 'r2']);
      assert.equal(b.dist.isReady(), false);
      await waitFor('b ready', () => b.dist.isReady());
      assert.deepEqual(readyAt, [4], 'ready only at the current version');
      assert.deepEqual(b.store.lines, ['r1', 'r2', 'r3', 'r4']);
      assert.ok(b.dist.counters.fetches >= 1);
    } finally {
      await removeStateDir(dir);
    }
  });

  it('a captured ANNOUNCE replayed to a restarted node does not make it ready at the stale version', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hafw-dist-'));
    try {
      const a = node('fwa', 'master', 'r1');
      let b = node('fwb', 'backup', 'r1', { stateDir: dir });
      await a.start();
      await b.start();
      await a.dist.write(a.store.tx({ add: ['r2'] }), { add: ['r2'] }, 'tx');
      await waitFor('b at 2', () => b.dist.currentVersion() === 2 && b.dist.isReady());
      // The attacker keeps an ANNOUNCE of version 2 (authenticated: a's key, a's boot).
      const at = net.nodes.get('10.0.0.97')!;
      const captured = at.sent.filter((bytes) => bytes[4] === MSG_ANNOUNCE).at(-1)!;
      await b.stop();
      await a.dist.write(a.store.tx({ add: ['r3'] }), { add: ['r3'] }, 'tx');
      // b comes back at its stored version 2 and, of a's datagrams, receives only the
      // replay (a's own are lost); a's fetch server still answers.
      at.muteDatagrams = true;
      b = node('fwb', 'backup', 'r1', { stateDir: dir });
      const readyAt: number[] = [];
      b.dist.onReadyChange(() => readyAt.push(b.dist.currentVersion()));
      await b.start();
      assert.equal(b.dist.currentVersion(), 2);
      net.inject('10.0.0.98', captured, '10.0.0.97');
      await waitFor('b ready', () => b.dist.isReady());
      assert.deepEqual(readyAt, [3], 'ready only at the version a runs now');
      assert.deepEqual(b.store.lines, ['r1', 'r2', 'r3']);
    } finally {
      await removeStateDir(dir);
    }
  });

  it('a fetch request whose head claims more than 4 KiB is refused before its body is read, and counted', async () => {
    const a = node('fwa', 'master', 'r1');
    await a.start();
    const m = net.transport('10.0.0.50');
    const big = encodeStreamFrame(key, { type: MSG_FETCH_REQ, nodeId: 50, epoch: 1, seq: 1, payload: { version: 0, nonce: 'x'.repeat(5000) } });
    const refused = assert.rejects(m.request('10.0.0.97', big, 500, { headBytes: STREAM_HEAD_BYTES, check: () => 0 }), /over the limit of 4096/);
    await clock.advance(5);
    await refused;
    assert.equal(a.dist.counters.dropped.oversize, 1);
    assert.equal(a.dist.counters.fetchesServed, 0);
  });

  it('a node alone whose ruleset file changed while it was down runs the file as the next version', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hafw-dist-'));
    try {
      let a = node('fwa', 'master', 'r1', { stateDir: dir });
      await a.start('file-1');
      await a.dist.write(a.store.tx({ add: ['r2'] }), { add: ['r2'] }, 'tx');
      await a.stop();
      a = node('fwa', 'master', 'r1', { stateDir: dir });
      await a.start('file-1');
      assert.deepEqual(a.store.lines, ['r1', 'r2'], 'same file: the stored version comes back');
      assert.equal(a.dist.currentVersion(), 2);
      await a.stop();
      a = node('fwa', 'master', 'edited', { stateDir: dir });
      await a.start('file-2');
      assert.deepEqual(a.store.lines, ['edited'], 'edited file: it runs');
      await waitFor('new version', () => a.dist.currentVersion() === 3);
      assert.match(a.dist.versionEntry(3)!.summary, /changed while the node was down/);
    } finally {
      await removeStateDir(dir);
    }
  });

  it('a stored history made under another cluster key is not brought along', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hafw-dist-'));
    try {
      let a = node('fwa', 'master', 'r1', { stateDir: dir });
      await a.start('file-1');
      await a.dist.write(a.store.tx({ add: ['r2'] }), { add: ['r2'] }, 'tx');
      await a.stop();
      a = node('fwa', 'master', 'r1', { stateDir: dir, key: new Uint8Array(32).fill(4) });
      await a.start('file-1');
      assert.deepEqual(a.store.lines, ['r1'], 'the file runs, not the old cluster\'s version');
      assert.equal(a.dist.currentVersion(), 1);
      assert.deepEqual(a.dist.listHistory().map((h) => h.version), [1]);
    } finally {
      await removeStateDir(dir);
    }
  });

  it('a node that hears no peer is ready after the startup grace and writable', async () => {
    const a = node('fwa', 'backup', 'r1');
    const t0 = clock.now();
    await a.start();
    assert.equal(a.dist.isReady(), false);
    await waitFor('ready alone', () => a.dist.isReady());
    assert.ok(clock.now() - t0 >= 150, `ready after ${clock.now() - t0} ms, before the startup grace of 150 ms`);
    assert.equal(a.dist.status().writable, true, 'no peer known: accepts writes');
  });

  it('a backup whose ruleset is replaced behind the cluster\'s back is reported drifted, then repaired from the master', async () => {
    const a = node('fwa', 'master', 'r1');
    const b = node('fwb', 'backup', 'r1');
    await a.start();
    await b.start();
    await waitFor('both ready', () => a.dist.isReady() && b.dist.isReady());
    await b.store.applyText('other');
    await b.dist.localReplaced();
    await waitFor('drift reported', () => b.events.some((e) => e.event === 'drift' && e.drift));
    await waitFor('repaired', () => b.events.some((e) => e.event === 'drift' && !e.drift));
    assert.deepEqual(b.store.lines, ['r1']);
    assert.equal(b.dist.currentHash(), a.dist.currentHash());
    assert.equal(b.dist.currentVersion(), 1, 'repair keeps the version');
    assert.equal(b.dist.counters.repairs, 1);
    assert.equal(b.dist.isDrifted(), false);
  });

  it('with repairDrift off, drift stays reported (status and the master\'s view of the peer)', async () => {
    const a = node('fwa', 'master', 'r1');
    const b = node('fwb', 'backup', 'r1', { repairDrift: false });
    await a.start();
    await b.start();
    await waitFor('backup heard the master', () => b.dist.status().master === 'fwa');
    await b.store.applyText('other');
    await b.dist.localReplaced();
    await waitFor('drift', () => b.dist.isDrifted());
    await waitFor('master sees the drifted peer', () => a.dist.status().nodes.some((n) => n.name === 'fwb' && n.drift));
    // Many announce intervals with the master in view: still no repair.
    await clock.advance(400);
    assert.deepEqual(b.store.lines, ['other'], 'not repaired');
    assert.equal(b.dist.counters.repairs, 0);
    assert.match(b.dist.status().driftReason ?? '', /differs from the master/);
  });

  it('a node behind for longer than the drift grace (fetches failing) is drifted until it catches up', async () => {
    const a = node('fwa', 'master', 'r1', { maxDatagramBytes: 200 });
    const b = node('fwb', 'backup', 'r1');
    await a.start();
    await b.start();
    // Ready: its fetch that proved a's version is over (it could otherwise bring version 2).
    await waitFor('b hears a and is ready', () => b.dist.status().master === 'fwa' && b.dist.isReady());
    net.nodes.get('10.0.0.97')!.refuseFetch = true;
    const ops = { add: Array.from({ length: 30 }, (_, i) => `bulk-${i}`) };
    await a.dist.write(a.store.tx(ops), ops, 'bulk');
    await waitFor('lag drift', () => b.dist.isDrifted());
    assert.match(b.dist.status().driftReason ?? '', /behind the cluster \(version 1, cluster 2\)/);
    assert.ok(b.dist.counters.fetchFailures >= 1);
    net.nodes.get('10.0.0.97')!.refuseFetch = false;
    await waitFor('caught up', () => b.dist.currentVersion() === 2 && !b.dist.isDrifted());
    assert.deepEqual(b.events.filter((e) => e.event === 'drift').map((e) => (e as { drift: boolean }).drift), [true, false]);
  });

  it('a fetch that gets no answer fails at the fetch timeout, and a later one brings the version', async () => {
    const a = node('fwa', 'master', 'r1', { maxDatagramBytes: 200 });
    const b = node('fwb', 'backup', 'r1');
    await a.start();
    await b.start();
    await waitFor('b hears a and is ready', () => b.dist.status().master === 'fwa' && b.dist.isReady());
    const at = net.nodes.get('10.0.0.97')!;
    at.blackholeFetch = true;
    const ops = { add: Array.from({ length: 30 }, (_, i) => `bulk-${i}`) };
    await a.dist.write(a.store.tx(ops), ops, 'bulk');
    const fetches = b.dist.counters.fetches;
    await waitFor('b asks for version 2', () => b.dist.counters.fetches > fetches);
    await clock.advance(499);
    assert.equal(b.dist.counters.fetchFailures, 0, 'still waiting just before fetchTimeoutMs');
    assert.equal(b.dist.counters.fetches, fetches + 1, 'one fetch at a time: none while it waits');
    await clock.advance(1);
    assert.equal(b.dist.counters.fetchFailures, 1, 'given up at fetchTimeoutMs');
    at.blackholeFetch = false;
    await waitFor('b at 2', () => b.dist.currentVersion() === 2);
    assert.deepEqual(b.store.lines, a.store.lines);
  });

  it('SIGHUP on the master makes the file a new cluster version', async () => {
    const a = node('fwa', 'master', 'r1');
    const b = node('fwb', 'backup', 'r1');
    await a.start();
    await b.start();
    await a.store.applyText('file2');
    await a.dist.localReplaced();
    assert.equal(a.dist.currentVersion(), 2);
    await waitFor('b fetched version 2', () => b.dist.currentVersion() === 2);
    assert.deepEqual(b.store.lines, ['file2']);
  });

  it('rollback to an earlier version is a new version with that text, applied cluster-wide', async () => {
    const a = node('fwa', 'master', 'r1');
    const b = node('fwb', 'backup', 'r1');
    await a.start();
    await b.start();
    await a.dist.write(a.store.tx({ add: ['r2'] }), { add: ['r2'] }, 'tx');
    await a.dist.write(a.store.tx({ add: ['r3'] }), { add: ['r3'] }, 'tx');
    const r = await a.dist.rollback(1);
    assert.deepEqual(r, { version: 4, from: 1 });
    assert.equal(a.dist.versionEntry(4)?.summary, 'rollback to 1');
    await waitFor('b at 4', () => b.dist.currentVersion() === 4);
    assert.deepEqual(b.store.lines, ['r1']);
    await assert.rejects(() => a.dist.rollback(99), RangeError);
  });

  it('a transaction too big for a datagram travels by fetch', async () => {
    const a = node('fwa', 'master', 'r1', { maxDatagramBytes: 300 });
    const b = node('fwb', 'backup', 'r1');
    await a.start();
    await b.start();
    const ops = { add: Array.from({ length: 50 }, (_, i) => `element-${i}`) };
    await a.dist.write(a.store.tx(ops), ops, 'bulk');
    assert.equal(a.dist.counters.updatesSent, 0);
    await waitFor('b at 2', () => b.dist.currentVersion() === 2);
    assert.equal(b.store.lines.length, 51);
    assert.ok(b.dist.counters.fetches >= 1);
  });

  it('an UPDATE the backup refuses is repaired by a fetch of the full text', async () => {
    const a = node('fwa', 'master', 'r1');
    const b = node('fwb', 'backup', 'r1');
    await a.start();
    await b.start();
    // The master's store accepts it (a FakeStore quirk stands in for a non-deterministic apply).
    await a.dist.write(() => a.store.applyText('r1\nrefuse'), { add: ['refuse'] }, 'tx');
    await waitFor('b at 2', () => b.dist.currentVersion() === 2);
    assert.deepEqual(b.store.lines, ['r1', 'refuse']);
    assert.equal(b.dist.counters.updatesApplied, 0);
  });

  it('drops forged, garbled and replayed datagrams, counts them, and changes nothing', async () => {
    const a = node('fwa', 'master', 'r1');
    const b = node('fwb', 'backup', 'r1');
    await a.start();
    await b.start();
    await a.dist.write(a.store.tx({ add: ['r2'] }), { add: ['r2'] }, 'tx');
    await waitFor('b at 2', () => b.dist.currentVersion() === 2);
    const to = b.dist.status() && '10.0.0.98';
    const forged = encodeFrame(new Uint8Array(32).fill(9), { type: MSG_UPDATE, nodeId: 97, epoch: 99, seq: 1, payload: { version: 3, baseVersion: 2, baseHash: b.dist.currentHash(), hash: 'a'.repeat(64), ops: { add: ['evil'] }, origin: 'x', summary: 'x', time: 0 } });
    net.inject(to, forged);
    for (let i = 0; i < 200; i++) net.inject(to, Uint8Array.from({ length: i }, (_, k) => (k * 31 + i) & 0xff));
    const badPayload = encodeFrame(key, { type: MSG_ANNOUNCE, nodeId: 97, epoch: 99, seq: 1, payload: { version: 'x' } });
    net.inject(to, badPayload);
    // Replays of everything the master sent (same epoch and sequence numbers).
    const mt = net.nodes.get('10.0.0.97')!;
    for (const bytes of mt.sent) net.inject(to, bytes, '10.0.0.97');
    await clock.advance(50);
    const d = b.dist.counters.dropped;
    assert.equal(d.auth, 1);
    assert.ok(d.malformed >= 200, `malformed ${d.malformed}`);
    assert.ok(d.replay >= mt.sent.length - 5, `replay ${d.replay} of ${mt.sent.length}`);
    assert.deepEqual(b.store.lines, ['r1', 'r2']);
    assert.equal(b.dist.currentVersion(), 2);
  });
});
