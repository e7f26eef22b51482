/**
 * @lab `hafw ct events` and `hafw trace` on a running node: a TCP connection through the
 * lab shows as new, its state changes as updates and its end (a flush) as destroy, in
 * JSON lines; a packet flagged by `meta nftrace set 1` in the ruleset, and one chosen by
 * `hafw trace --filter`, are traced through their chains to their verdict. Needs root.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Lab, LAB_DIR, HAFW_BIN, sleep } from './lab.js';
import { nsArgv } from './exec.js';
import { CLIENT, NS, SERVER } from './topology.js';
import { startEchoServer, tcpRun } from './traffic.js';
import type { CtEventJson } from '../node/conntrack/index.js';
import type { TraceRecord } from '../node/ruleset/index.js';

const RULESET = `table inet filter {
  chain trace {
    type filter hook prerouting priority -301; policy accept;
    tcp dport 5002 tcp flags syn meta nftrace set 1
  }
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    ct state invalid counter drop
    iifname "lan" ct state new accept
  }
}
`;

/** A CLI command running in the node's namespace, its stdout lines parsed as JSON as they come. */
class Follower<T> {
  readonly child: ChildProcess;
  readonly items: T[] = [];
  stderr = '';
  readonly closed: Promise<number | null>;

  constructor(ns: string, args: string[]) {
    const argv = nsArgv(ns, [process.execPath, HAFW_BIN, ...args]);
    this.child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    createInterface({ input: this.child.stdout! }).on('line', (l) => this.items.push(JSON.parse(l) as T));
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.closed = new Promise((resolve) => this.child.on('close', (code) => resolve(code)));
  }

  /** Runs `poke` (traffic) until `ok` holds for what came, or the time is up. */
  async until(ok: (items: T[]) => boolean, poke: () => Promise<unknown>, ms = 20000): Promise<T[]> {
    const deadline = Date.now() + ms;
    while (!ok(this.items) && Date.now() < deadline) {
      await poke();
      await sleep(300);
    }
    return this.items;
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.pid !== undefined) this.child.kill('SIGTERM');
  }
}

describe('@lab event streams: hafw ct events and hafw trace on a running node', function () {
  this.timeout(120000);
  let lab: Lab;
  const stops: (() => Promise<void>)[] = [];
  const followers: Follower<unknown>[] = [];

  before(async function () {
    this.timeout(10 * 60_000);
    await mkdir(LAB_DIR, { recursive: true });
    const file = path.join(LAB_DIR, 'event-streams.nft');
    await writeFile(file, RULESET);
    lab = await Lab.up({ nodes: 1, extraConfig: () => `ruleset:\n  file: ${file}\n` });
    await lab.waitTraffic();
    stops.push(await startEchoServer(5001, NS.server), await startEchoServer(5002, NS.server));
  });
  after(async () => {
    for (const f of followers) f.stop();
    await Promise.all(followers.map((f) => f.closed));
    for (const s of stops) await s().catch(() => undefined);
    await Lab.down();
  });

  it('hafw ct events --json: a connection through the node shows as new, updates (state changes) and destroy', async () => {
    const ev = new Follower<CtEventJson>(lab.node('fwa').ns, ['ct', 'events', '--json', '-p', 'tcp', '--dport', '5001', '-s', CLIENT.v4]);
    followers.push(ev as Follower<unknown>);
    // The stream may open after the first run: connect until a connection is seen from its start.
    await ev.until((items) => items.some((e) => e.event === 'new') && items.some((e) => e.event === 'update' && e.tcpState === 'ESTABLISHED'), () => tcpRun(SERVER.v4, { bytes: 10_000, port: 5001 }));
    const first = ev.items.find((e) => e.event === 'new')!;
    assert.ok(first, `no new event: ${JSON.stringify(ev.items)} ${ev.stderr}`);
    const sport = first.original.sport!;
    assert.deepEqual([first.tcpState, first.owner, first.original.src, first.original.dst, first.original.dport], ['SYN_SENT', 'local', CLIENT.v4, SERVER.v4, 5001]);
    assert.equal(first.reply.src, SERVER.v4);
    assert.ok(first.status.includes('confirmed') && !first.status.includes('seen-reply'));
    // Its end: a flush removes it now (instead of after TIME_WAIT).
    await lab.hafw('fwa', ['ct', 'flush', '-p', 'tcp', '--dport', '5001']);
    const mine = (await ev.until((items) => items.some((e) => e.event === 'destroy' && e.original.sport === sport), async () => undefined, 5000)).filter((e) => e.original.sport === sport);
    const kinds = mine.map((e) => `${e.event} ${e.tcpState}`);
    assert.equal(kinds[0], 'new SYN_SENT', kinds.join(', '));
    assert.ok(kinds.includes('update ESTABLISHED'), kinds.join(', '));
    assert.equal(mine.at(-1)!.event, 'destroy', kinds.join(', '));
    assert.ok(mine.length <= 12, `a handful of updates, not one per packet: ${kinds.join(', ')}`);
    assert.ok(ev.items.every((e) => e.original.dport === 5001 && e.proto === 6), 'the filter held');
    const metrics = await lab.hafw('fwa', ['metrics']);
    assert.match(metrics, /^hafw_ct_events_total\{[^}]*\} [1-9]/m);
    assert.match(metrics, /^hafw_ct_events_dropped_total\{[^}]*stage="datapath"[^}]*\} 0$/m);
    ev.stop();
    assert.equal(await ev.closed, 0, ev.stderr);
  });

  it('hafw trace: a packet flagged by meta nftrace is shown chain by chain with its verdict', async () => {
    const tr = new Follower<TraceRecord>(lab.node('fwa').ns, ['trace', '--json', '--count', '1']);
    followers.push(tr as Follower<unknown>);
    await tr.until((items) => items.length > 0, () => tcpRun(SERVER.v4, { bytes: 1000, port: 5002 }));
    assert.equal(await tr.closed, 0, tr.stderr);
    const r = tr.items[0]!;
    assert.deepEqual([r.packet.src, r.packet.dst, r.packet.dport, r.packet.iif, r.packet.tcpFlags, r.ctState, r.verdict, r.by], [CLIENT.v4, SERVER.v4, 5002, 'lan', ['syn'], 'new', 'accept', ['nftrace']]);
    assert.deepEqual(r.steps.map((s) => `${s.hook} ${s.table} ${s.chain} ${s.type} ${s.rule ?? ''} ${s.verdict}`), [
      'forward filter forward rule iifname "lan" ct state new accept accept',
    ]);
  });

  it('hafw trace --filter: the packets the matches choose, from their first hook; text output like nft monitor trace', async () => {
    const argv = nsArgv(lab.node('fwa').ns, [process.execPath, HAFW_BIN, 'trace', '--filter', `ip saddr ${CLIENT.v4} tcp dport 5001 tcp flags syn`, '--count', '1']);
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    const deadline = Date.now() + 20000;
    while (!/verdict accept/.test(out) && Date.now() < deadline) {
      await tcpRun(SERVER.v4, { bytes: 1000, port: 5001 });
      await sleep(300);
    }
    assert.equal(await closed, 0, err);
    const lines = out.trim().split('\n');
    assert.match(lines[0]!, new RegExp(`^trace id \\d+ packet: iif "lan" oif "wan" ip saddr ${CLIENT.v4.replace(/\./g, '\\.')} ip daddr ${SERVER.v4.replace(/\./g, '\\.')} tcp sport \\d+ tcp dport 5001 tcp flags syn length \\d+ \\(ct state new; traced by filter\\)$`));
    const rest = lines.slice(1).map((l) => l.replace(/^trace id \d+ /, ''));
    assert.equal(rest[0], 'prerouting inet filter trace policy accept', out);
    assert.equal(rest[1], 'forward inet filter forward rule iifname "lan" ct state new accept (verdict accept)', out);
    assert.match(rest[2]!, new RegExp(`^conntrack: src=${CLIENT.v4.replace(/\./g, '\\.')} dst=${SERVER.v4.replace(/\./g, '\\.')} sport=\\d+ dport=5001 `), out);
    assert.equal(rest[3], 'verdict accept', out);
    const badArgv = nsArgv(lab.node('fwa').ns, [process.execPath, HAFW_BIN, 'trace', '--filter', 'tcp dport 5001 drop']);
    const bad = spawn(badArgv[0]!, badArgv.slice(1), { stdio: 'ignore' });
    assert.equal(await new Promise((resolve) => bad.on('close', resolve)), 2, 'a filter with a verdict is a usage error');
  });
});
