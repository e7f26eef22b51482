import assert from 'node:assert/strict';
import { buildUdp, parseBuilt } from '../../packet/build.js';
import type { PacketInfo } from '../../packet/packet-info.js';
import { createCounterBuffer, readCounters } from '../shared/counters.js';
import { MemoryDevice } from './memory-device.js';
import { PacketLoop } from './packet-loop.js';
import { Verdict, type PacketStage } from './stage.js';

const udp = (dport: number, payload = 4): Uint8Array => buildUdp({ src: '192.0.2.1', dst: '198.51.100.1', sport: 1000, dport, payload, vnet: true });
const dportOf = (p: Uint8Array): number => parseBuilt(p, 10).dport;

/** Accepts everything but UDP port 9; `onPacket` sees each packet first. */
function stage(onPacket?: (p: PacketInfo) => void): PacketStage {
  return {
    process(p) {
      onPacket?.(p);
      return p.dport === 9 ? Verdict.Drop : Verdict.Accept;
    },
  };
}

function loopOn(dev: MemoryDevice, s: PacketStage, batchSize = 4) {
  const counters = createCounterBuffer();
  const loop = new PacketLoop(dev, { batchSize, counters, stage: s });
  return { loop, counters: () => readCounters(counters) };
}

/** The process's ref'd handles and requests (unref'd timers are not listed: they let it end). */
const resources = (): string[] => process.getActiveResourcesInfo().slice().sort();

describe('memory device (tuntest-style fake TUN) under the packet loop', () => {
  it('reads what was sent, runs it through the stage, writes back the forwarded slots in order', async () => {
    const dev = new MemoryDevice();
    const { loop, counters } = loopOn(dev, stage());
    loop.start();
    const sent = [udp(53), udp(9), udp(123, 200)];
    for (const p of sent) dev.send(p);
    await dev.idle();
    assert.deepEqual(dev.outbound, [sent[0], sent[2]]);
    const c = counters();
    assert.equal(c.rx_packets, 3);
    assert.equal(c.verdict_accept, 2);
    assert.equal(c.verdict_drop, 1);
    assert.equal(c.tx_bytes, sent[0]!.length - 10 + sent[2]!.length - 10);
    dev.close();
  });

  it('splits what is queued into batches of the loop size', async () => {
    const dev = new MemoryDevice({ maxBatchesPerWake: 2 });
    const { loop, counters } = loopOn(dev, stage(), 4);
    loop.start();
    for (let i = 0; i < 10; i++) dev.send(udp(1000 + i));
    await dev.idle();
    assert.deepEqual(dev.outbound.map(dportOf), [...Array(10).keys()].map((i) => 1000 + i));
    assert.equal(counters().batches, 3);
    assert.equal(dev.stats.batches, 3);
    assert.equal(dev.stats.wakeups, 2); // two batches per wake-up, then a new one
    dev.close();
  });

  it('inject writes at once, before the batch that made it is written back', async () => {
    const dev = new MemoryDevice();
    const reply = udp(7777);
    const { loop } = loopOn(dev, stage((p) => (p.dport === 9 ? dev.inject(reply, 0, reply.length) : undefined)));
    loop.start();
    dev.send(udp(53));
    dev.send(udp(9));
    await dev.idle();
    assert.deepEqual(dev.outbound.map(dportOf), [7777, 53]);
    dev.close();
  });

  it('close during a batch: nothing of it is written back, the rest is not read, send and inject refuse', async () => {
    const dev = new MemoryDevice();
    let seen = 0;
    const { loop } = loopOn(dev, stage(() => (++seen === 2 ? dev.close() : undefined)), 2);
    loop.start();
    for (let i = 0; i < 5; i++) dev.send(udp(2000 + i));
    await dev.idle();
    assert.equal(seen, 2);
    assert.deepEqual(dev.outbound, []);
    assert.throws(() => dev.send(udp(1)), /device mem0 is closed/);
    assert.throws(() => dev.inject(new Uint8Array(30), 0, 30), /device mem0 is closed/);
  });

  it('close leaves no handle behind, even with packets still queued', () => {
    const before = resources();
    const dev = new MemoryDevice();
    const { loop } = loopOn(dev, stage());
    loop.start();
    dev.send(udp(53));
    assert.notDeepEqual(resources(), before); // a wake-up is pending
    dev.close();
    assert.deepEqual(resources(), before);
  });
});
