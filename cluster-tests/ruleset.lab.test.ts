/**
 * @lab: one node filtering with a stateful ruleset; transactions through the API take
 * effect without a restart; `reject` answers with a TCP reset / ICMP unreachable. Needs root.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Lab, sh, sleep, HAFW_BIN } from './lab.js';
import { CLIENT, NS, SERVER } from './topology.js';
import { startEchoServer, tcpRun, udpRun } from './traffic.js';

const RULESET = `# established/related back in, new only from the LAN, everything else dropped
define lan_if = "lan"
table inet filter {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    ct state invalid drop
    tcp dport 5003 reject with tcp reset
    udp dport 5003 reject
    include "LAN_RULES"
  }
}
`;

/** The ruleset file's include: the node reads it at start (and the datapath copy gets the expanded text). */
const LAN_RULES = 'iifname $lan_if ct state new accept\n';

/** Connects once from `ns`; reports the error code (or 'connected' / 'timeout') and how long it took. */
async function tcpConnect(host: string, port: number, ns: string): Promise<{ result: string; ms: number }> {
  const script = `const net = require('net'); const t = Date.now();
const done = (r) => { console.log(JSON.stringify({ result: r, ms: Date.now() - t })); process.exit(0); };
const s = net.connect({ host: ${JSON.stringify(host)}, port: ${port} });
s.on('connect', () => done('connected')); s.on('error', (e) => done(e.code));
setTimeout(() => done('timeout'), 4000);`;
  return JSON.parse(await sh([process.execPath, '-e', script], { ns, timeoutMs: 10000 })) as { result: string; ms: number };
}

/** Sends from a connected UDP socket; a port unreachable comes back as ECONNREFUSED (Linux, RFC 1122 4.1.3.3). */
async function udpProbe(host: string, port: number, ns: string): Promise<string> {
  const script = `const d = require('dgram'); const s = d.createSocket(${JSON.stringify(host.includes(':') ? 'udp6' : 'udp4')});
const done = (r) => { console.log(r); process.exit(0); };
s.on('error', (e) => done(e.code)); s.on('message', () => done('answered'));
s.connect(${port}, ${JSON.stringify(host)}, () => { s.send('probe'); setTimeout(() => s.send('probe'), 300); setTimeout(() => s.send('probe'), 600); });
setTimeout(() => done('timeout'), 3000);`;
  return (await sh([process.execPath, '-e', script], { ns, timeoutMs: 10000 })).trim();
}

/** Holds a connection to host:5001 open for 2 s and reads the MSS both kernels chose (`ss -ti`). */
async function mssSeen(host: string): Promise<{ client: number; server: number }> {
  const holder = sh([process.execPath, '-e', `const s = require('net').connect({ host: ${JSON.stringify(host)}, port: 5001 }); s.on('error', () => process.exit(1)); setTimeout(() => process.exit(0), 2000);`], { ns: NS.client, timeoutMs: 10000 });
  await sleep(700);
  const read = async (ns: string, filter: string): Promise<number> => {
    const out = await sh(['ss', '-tin', 'state', 'established', filter], { ns });
    const m = /\bmss:(\d+)/.exec(out);
    if (!m) throw new Error(`no established connection in ${ns}: ${out}`);
    return Number(m[1]);
  };
  const seen = { client: await read(NS.client, 'dport = :5001'), server: await read(NS.server, 'sport = :5001') };
  await holder;
  return seen;
}

describe('@lab ruleset: a stateful ruleset on one node, changed live through the API', function () {
  this.timeout(120000);
  let lab: Lab;
  let dir: string;
  let stops: (() => Promise<void>)[] = [];
  const fw = NS.fw('fwa');
  const hafw = (args: string[]): Promise<string> => sh([process.execPath, HAFW_BIN, ...args], { ns: fw, timeoutMs: 15000 });

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hafw-ruleset-lab-'));
    const file = path.join(dir, 'filter.nft');
    await writeFile(path.join(dir, 'lan.nft'), LAN_RULES);
    await writeFile(file, RULESET.replace('LAN_RULES', path.join(dir, 'lan.nft')));
    lab = await Lab.up({ nodes: 1, extraConfig: () => `ruleset:\n  file: ${file}\n` });
    stops = [await startEchoServer(5001, NS.server), await startEchoServer(5002, NS.client)];
  });
  after(async () => {
    for (const s of stops) await s().catch(() => undefined);
    await Lab.down();
    await rm(dir, { recursive: true, force: true });
  });

  it('lets new connections from the LAN through, and their replies back', async () => {
    for (const host of [SERVER.v4, SERVER.v6]) {
      const t = await tcpRun(host, { bytes: 2_000_000 });
      assert.equal(t.ok, 1, `TCP to ${host}: ${JSON.stringify(t)}`);
      const u = await udpRun(host, { count: 200 });
      assert.ok(u.received >= u.sent * 0.95, `UDP to ${host}: ${JSON.stringify(u)}`);
    }
  });

  it('shows the live counters of the datapath copy: a named counter and a rule counter count the packets through them', async () => {
    await hafw(['ruleset', 'apply', 'add counter inet filter to_server\ninsert rule inet filter forward tcp dport 5001 counter name "to_server" counter']);
    for (const host of [SERVER.v4, SERVER.v6]) assert.equal((await tcpRun(host, { bytes: 100_000 })).ok, 1);
    const shown = await hafw(['ruleset', 'show']);
    const named = /counter to_server \{\n\t\tpackets (\d+) bytes (\d+)/.exec(shown);
    const inRule = /counter name "to_server" counter packets (\d+) bytes (\d+)/.exec(shown);
    assert.ok(named && inRule, shown);
    assert.ok(Number(named[1]) > 10 && Number(named[2]) > 150_000, shown);
    assert.equal(inRule[1], named[1]);
  });

  it('drops a new connection from the WAN side (policy drop), counting drops', async () => {
    const before = (await lab.status('fwa')).datapath.counters;
    const r = await tcpConnect(CLIENT.v4, 5002, NS.server);
    assert.equal(r.result, 'timeout', `server -> client must not connect: ${JSON.stringify(r)}`);
    const after = (await lab.status('fwa')).datapath.counters;
    assert.ok(after.verdict_drop > before.verdict_drop, 'the SYNs were dropped by the filter');
  });

  it('applies a transaction through the API without a restart, announced to hafw monitor', async () => {
    const pid = lab.node('fwa').pid;
    const gen0 = ((await lab.status('fwa')) as { ruleset?: { generation: number } }).ruleset!.generation;
    const monitor = sh([process.execPath, HAFW_BIN, 'monitor', '--count', '1'], { ns: fw, timeoutMs: 15000 });
    await sleep(500);
    const out = await hafw(['ruleset', 'apply', '--base-generation', String(gen0), 'add rule inet filter forward ip saddr 198.51.100.100 tcp dport 5002 accept']);
    assert.match(out, new RegExp(`generation ${gen0 + 1}`));
    const events = await monitor;
    assert.match(events, /^add rule inet filter forward ip saddr 198\.51\.100\.100 tcp dport 5002 accept # handle \d+$/m);
    assert.match(events, new RegExp(`^# new generation ${gen0 + 1}$`, 'm'));

    const t = await tcpRun(CLIENT.v4, { bytes: 500_000, port: 5002, ns: NS.server });
    assert.equal(t.ok, 1, `server -> client tcp/5002 is allowed now: ${JSON.stringify(t)}`);
    assert.equal(lab.node('fwa').pid, pid, 'same node process');
    assert.match(await hafw(['ruleset', 'show', '--handles']), /ip saddr 198\.51\.100\.100 tcp dport 5002 accept # handle \d+/);
    // IPv6 was not part of the new rule: still dropped.
    assert.equal((await tcpConnect(CLIENT.v6, 5002, NS.server)).result, 'timeout');
  });

  it('refuses a bad transaction or a stale base generation and changes nothing', async () => {
    const before = await hafw(['ruleset', 'show', '--handles']);
    const bad = await sh([process.execPath, HAFW_BIN, 'ruleset', 'apply', 'add rule inet filter forward jump nowhere'], { ns: fw }).then(
      () => assert.fail('a bad transaction must exit 1'),
      (e: Error) => e.message,
    );
    assert.match(bad, /<api>:1:\d+: .*nowhere/);
    const stale = await sh([process.execPath, HAFW_BIN, 'ruleset', 'apply', '--base-generation', '1', 'add rule inet filter forward tcp dport 9 accept'], { ns: fw }).then(
      () => assert.fail('a stale transaction must exit 1'),
      (e: Error) => e.message,
    );
    assert.match(stale, /based on generation 1, current is \d+/);
    assert.equal(await hafw(['ruleset', 'show', '--handles']), before);
  });

  it('reject with tcp reset makes a TCP connect fail fast with ECONNREFUSED (IPv4 and IPv6)', async () => {
    for (const host of [SERVER.v4, SERVER.v6]) {
      const r = await tcpConnect(host, 5003, NS.client);
      assert.equal(r.result, 'ECONNREFUSED', `${host}: ${JSON.stringify(r)}`);
      assert.ok(r.ms < 1000, `refused at once, not after a timeout (${r.ms} ms)`);
    }
    const c = (await lab.status('fwa')).datapath.counters;
    assert.ok(c.verdict_reject >= 2);
  });

  it('clamps the MSS of connections through it (tcp option maxseg size set): both ends see the lower value, IPv4 and IPv6', async () => {
    for (const host of [SERVER.v4, SERVER.v6]) {
      const before = await mssSeen(host);
      assert.ok(before.client > 1200 && before.server > 1200, `${host} without clamping: ${JSON.stringify(before)}`);
    }
    await hafw(['ruleset', 'apply', 'insert rule inet filter forward tcp flags syn tcp option maxseg size > 1200 tcp option maxseg size set 1200']);
    for (const host of [SERVER.v4, SERVER.v6]) {
      const after = await mssSeen(host);
      // ss shows the MSS less the 12 bytes of TCP timestamps when they are on.
      assert.ok(after.client <= 1200 && after.server <= 1200 && after.client >= 1180, `${host} with clamping at 1200: ${JSON.stringify(after)}`);
    }
  });

  it('clamps the MSS to the route MTU (tcp option maxseg size set rt mtu): the MTU read from the node\'s routes, IPv4 and IPv6', async () => {
    // The fixed clamp of the test before goes; rt mtu takes its place.
    const h = /tcp option maxseg size set 1200 # handle (\d+)/.exec(await hafw(['ruleset', 'show', '--handles']));
    if (h) await hafw(['ruleset', 'apply', `delete rule inet filter forward handle ${h[1]}`]);
    await hafw(['ruleset', 'apply', 'insert rule inet filter forward tcp flags syn tcp option maxseg size set rt mtu']);
    const mtuOf = async (dev: string) => (JSON.parse(await sh(['ip', '-j', 'link', 'show', dev], { ns: fw })) as { mtu: number }[])[0]!.mtu;
    const was = await mtuOf('wan');
    await sh(['ip', 'link', 'set', 'wan', 'mtu', '1400'], { ns: fw });
    try {
      // The node reads its routes (and their devices' MTUs) every 2 s.
      await sleep(2500);
      for (const [host, headers] of [[SERVER.v4, 40], [SERVER.v6, 60]] as const) {
        const after = await mssSeen(host);
        const mss = 1400 - headers;
        // ss shows the MSS less the 12 bytes of TCP timestamps when they are on.
        assert.ok(after.client <= mss && after.server <= mss && after.client >= mss - 12 && after.server >= mss - 12, `${host} clamped to the wan MTU 1400: ${JSON.stringify(after)}`);
      }
    } finally {
      await sh(['ip', 'link', 'set', 'wan', 'mtu', String(was)], { ns: fw });
    }
  });

  it('reject answers UDP with ICMP / ICMPv6 port unreachable (ECONNREFUSED on a connected socket)', async () => {
    assert.equal(await udpProbe(SERVER.v4, 5003, NS.client), 'ECONNREFUSED');
    assert.equal(await udpProbe(SERVER.v6, 5003, NS.client), 'ECONNREFUSED');
  });

  it('a log statement writes its line to the node log: prefix, level and the packet as nf_log prints it', async () => {
    await hafw(['ruleset', 'apply', 'insert rule inet filter forward tcp dport 5004 log prefix "lab-log: " level warn']);
    await tcpConnect(SERVER.v4, 5004, NS.client);
    type Rec = { event?: string; level?: number; prefix?: string; nftLevel?: string; fields?: Record<string, string>; msg?: string };
    let rec: Rec | undefined;
    for (let i = 0; i < 50 && !rec; i++) {
      const lines = await lab.nodeLog('fwa');
      rec = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Rec).find((r) => r.event === 'ruleset.log' && r.prefix === 'lab-log: ');
      if (!rec) await sleep(100);
    }
    assert.ok(rec, 'a ruleset.log record in the node log');
    assert.equal(rec.level, 40, 'pino warn');
    assert.equal(rec.nftLevel, 'warn');
    assert.deepEqual([rec.fields?.IN, rec.fields?.OUT, rec.fields?.SRC, rec.fields?.DST, rec.fields?.PROTO, rec.fields?.DPT, rec.fields?.TCPFLAGS], ['lan', 'wan', CLIENT.v4, SERVER.v4, 'TCP', '5004', 'SYN']);
    assert.match(rec.msg!, /^lab-log: IN=lan OUT=wan SRC=192\.0\.2\.100 DST=198\.51\.100\.100 LEN=60 TOS=0x00 PREC=0x00 TTL=\d+ ID=\d+ DF PROTO=TCP SPT=\d+ DPT=5004 WINDOW=\d+ RES=0x00 SYN URGP=0$/);
    const metrics = await hafw(['metrics']);
    assert.match(metrics, /^hafw_ruleset_log_lines_total\{node="fwa"\} [1-9]/m);
  });
});
