import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { UdpTcpTransport, type UdpTcpTransportOptions } from './udp-transport.js';
import type { RulesetDistributor } from './distributor.js';
import { DistRunner } from './runner.js';
import { FakeStore } from './testing/fake-store.js';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** Real sockets and timers: waits (at most 4 s) for what the event loop brings. */
async function until(what: string, cond: () => boolean): Promise<void> {
  const end = Date.now() + 4000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A standalone node serving fetches on 127.0.0.1 (unicast, no peer listening). */
async function fetchServer(opts: Partial<UdpTcpTransportOptions> = {}): Promise<{ port: number; t: UdpTcpTransport; dist: RulesetDistributor; runner: DistRunner }> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const t = await UdpTcpTransport.open({ address: '127.0.0.1', port, peers: ['127.0.0.3'], ...opts });
  const runner = new DistRunner({ nodeId: 1, name: 'fwa', epoch: 1, key: new Uint8Array(32).fill(5), role: () => 'standalone', startupGraceMs: 0 }, new FakeStore('r1'), t, quiet);
  await runner.start();
  return { port, t, dist: runner.core, runner };
}

/**
 * The attacker runs in its own process, so that what it manages to write is not held up by
 * the server's event loop: `conns` connections each write 64 MiB (1 MiB at a time, following backpressure) that
 * begin like a message but carry no valid HMAC: even ones a length prefix just under
 * 64 MiB (a server trusting a length buffers it all), odd ones a stream head ("HRS1")
 * claiming 64 MiB with a zero HMAC. Prints the bytes each connection got written.
 */
const ATTACKER = `
const net = require('node:net');
const [port, conns] = process.argv.slice(1).map(Number);
const chunk = Buffer.alloc(1 << 20, 0x41);
const results = [];
let left = conns;
for (let i = 0; i < conns; i++) {
  const s = net.connect({ host: '127.0.0.1', port });
  let sent = 0;
  const done = () => { if (results[i] === undefined) { results[i] = sent; s.destroy(); if (--left === 0) console.log(JSON.stringify(results)); } };
  s.on('error', done);
  s.on('close', done);
  s.on('connect', () => {
    const head = Buffer.alloc(56);
    if (i % 2 === 0) head.writeUInt32BE(64 * 1024 * 1024 - 8, 0);
    else { head.write('HRS1', 0); head.writeUInt8(3, 4); head.writeUInt32BE(64 * 1024 * 1024 - 200, 20); }
    s.write(head);
    const more = () => {
      while (sent < 64) { sent++; if (!s.write(chunk)) return void s.once('drain', more); }
      s.end();
    };
    more();
  });
}
setTimeout(() => process.exit(2), 60000).unref();
`;

describe('ruleset-dist over UDP + TCP (unicast on loopback addresses)', () => {
  it('announces, pushes an UPDATE and serves a FETCH of a text bigger than a datagram', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const key = new Uint8Array(32).fill(5);
    const ta = await UdpTcpTransport.open({ address: '127.0.0.1', port, peers: ['127.0.0.2'] });
    const tb = await UdpTcpTransport.open({ address: '127.0.0.2', port, peers: ['127.0.0.1'] });
    const sa = new FakeStore('r1');
    const sb = new FakeStore('r1');
    const ra = new DistRunner({ nodeId: 1, name: 'fwa', epoch: 1, key, role: () => 'master', announceIntervalMs: 50, startupGraceMs: 100 }, sa, ta, quiet);
    const rb = new DistRunner({ nodeId: 2, name: 'fwb', epoch: 1, key, role: () => 'backup', announceIntervalMs: 50, startupGraceMs: 100 }, sb, tb, quiet);
    const a = ra.core;
    const b = rb.core;
    try {
      await ra.start();
      await rb.start();
      await until('b hears a as master', () => b.status().master === 'fwa');
      await a.write(sa.tx({ add: ['r2'] }), { add: ['r2'] }, 'tx');
      await until('b at 2 by UPDATE', () => b.currentVersion() === 2);
      assert.equal(b.counters.updatesApplied, 1);
      // 200 kB of rules: far beyond a datagram, so only the TCP fetch can carry it.
      const big = { add: Array.from({ length: 4000 }, (_, i) => `rule number ${i} ${'x'.repeat(40)}`) };
      await a.write(sa.tx(big), big, 'bulk');
      await until('b at 3 by FETCH', () => b.currentVersion() === 3);
      assert.equal(sb.lines.length, 4002);
      assert.equal(b.currentHash(), a.currentHash());
      assert.ok(a.counters.fetchesServed >= 1);
    } finally {
      await ra.stop();
      await rb.stop();
    }
  });

  // What this costs in memory is the bench's to measure; here: the server stops reading.
  it('8 connections each sending 64 MiB without the key are closed after their head, long before their body is through', async () => {
    const { port, t, dist, runner } = await fetchServer();
    try {
      const child = spawn(process.execPath, ['-e', ATTACKER, String(port), '8'], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((r) => child.on('exit', r));
      assert.equal(code, 0, 'the attacker finished');
      const sentMiB = JSON.parse(out) as number[];
      // A server that read (or buffered) the bodies would let all 64 MiB through; closed
      // after the head, only what the socket buffers hold gets written.
      assert.equal(sentMiB.length, 8);
      assert.ok(sentMiB.every((n) => n < 64), `the attacker wrote ${sentMiB.join(', ')} MiB`);
      assert.equal(t.serverCounters.refusedHead, 8, 'every connection closed after its head');
      assert.equal(dist.counters.dropped.malformed + dist.counters.dropped.auth, 8);
    } finally {
      await runner.stop();
    }
  });

  it('a connection trickling bytes is closed at its absolute deadline, which bytes do not extend', async () => {
    const { port, t, runner } = await fetchServer({ connectionDeadlineMs: 300 });
    try {
      const s = net.connect({ host: '127.0.0.1', port });
      s.on('error', () => undefined);
      await new Promise((r) => s.once('connect', r));
      const opened = Date.now();
      // One byte every 100 ms for at most 4 s: never a whole head, never 300 ms idle (the
      // first four make a small length prefix, so a reader of those waits for more too).
      const bytes = [0, 0, 1, 0, ...new Array<number>(36).fill(0x41)];
      let sent = 0;
      const trickle = setInterval(() => {
        if (sent < bytes.length && !s.destroyed) s.write(Buffer.from([bytes[sent++]!]));
      }, 100);
      let giveUp: NodeJS.Timeout | undefined;
      const closedAt = await new Promise<number>((r) => {
        s.once('close', () => r(Date.now()));
        giveUp = setTimeout(() => r(-1), 4500);
      });
      clearTimeout(giveUp);
      clearInterval(trickle);
      s.destroy();
      assert.notEqual(closedAt, -1, 'the server never closed the trickling connection');
      assert.ok(closedAt - opened >= 250, `closed after ${closedAt - opened} ms, before its deadline`);
      assert.ok(sent < bytes.length, 'closed while the bytes were still coming');
      assert.equal(t.serverCounters.closedDeadline, 1);
    } finally {
      await runner.stop();
    }
  });

  it('connections beyond maxConnections are closed as they arrive and counted', async () => {
    const { port, t, runner } = await fetchServer({ maxConnections: 2 });
    const socks: net.Socket[] = [];
    try {
      const closed: boolean[] = [];
      for (let i = 0; i < 3; i++) {
        const s = net.connect({ host: '127.0.0.1', port });
        s.on('error', () => undefined);
        closed.push(false);
        s.on('close', () => (closed[i] = true));
        socks.push(s);
        await new Promise((r) => s.once('connect', r));
        // The server has taken it (or closed it) before the next one connects.
        await until(`connection ${i + 1} taken`, () => t.serverCounters.open + t.serverCounters.refusedLimit === i + 1);
      }
      await until('the third connection closed', () => closed[2]!);
      assert.deepEqual(closed, [false, false, true], 'the third connection was closed, the first two stay');
      assert.equal(t.serverCounters.refusedLimit, 1);
      assert.equal(t.serverCounters.open, 2);
    } finally {
      for (const s of socks) s.destroy();
      await runner.stop();
    }
  });
});
