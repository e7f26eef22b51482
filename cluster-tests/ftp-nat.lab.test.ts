/**
 * @lab FTP through NAT on one node, with real sockets: a tiny scripted FTP exchange (a few
 * lines of node on each side, no FTP server package) across the lab, under a strict
 * ruleset that lets data connections through only as `ct state related`. Active mode
 * behind masquerade: the server connects to the address and port the client's PORT
 * announced, as the node rewrote it. Passive mode behind dnat: the client connects where
 * the server's 227 said, as the node rewrote it. Needs root.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Lab, sh, sleep } from './lab.js';
import { CLIENT, FIREWALLS, NS, SERVER } from './topology.js';

const DNAT_ADDR = '198.51.100.51';
const FWA = FIREWALLS[0]!;

const RULESET = `table ip nat {
  chain pre {
    type nat hook prerouting priority dstnat;
    iifname "wan" ip daddr ${DNAT_ADDR} tcp dport 21 dnat to ${CLIENT.v4}
  }
  chain post {
    type nat hook postrouting priority srcnat;
    oifname "wan" ip saddr 192.0.2.0/24 masquerade
  }
}
table inet filter {
  ct helper ftp-std { type "ftp" protocol tcp; }
  chain pre {
    type filter hook prerouting priority filter; policy accept;
    tcp dport 21 ct helper set "ftp-std"
  }
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state invalid drop
    ct state established accept
    ct state related accept
    iifname "lan" tcp dport 21 accept
    ct status dnat tcp dport 21 accept
    # The lab's own reachability probe.
    iifname "lan" icmp type echo-request accept
  }
}
`;

/** Reads CRLF lines from a socket: `onLine(line)` for each. */
const LINES = `function lines(s, onLine) { let buf = ''; s.on('data', (d) => { buf += d; let i; while ((i = buf.indexOf('\\r\\n')) >= 0) { const l = buf.slice(0, i); buf = buf.slice(i + 2); onLine(l); } }); }
function hostPort(t) { const n = t.split(',').map(Number); return { host: n.slice(0, 4).join('.'), port: n[4] * 256 + n[5] }; }`;

/**
 * Active mode: the server (PORT -> it connects to what it read) and the client (announces
 * its own address and a listening port). Returns what each printed.
 */
async function activeMode(): Promise<{ server: string; client: string }> {
  const server = `${LINES}
const net = require('net');
const srv = net.createServer((c) => {
  c.write('220 hafw lab\\r\\n');
  lines(c, (l) => {
    if (/^PORT /i.test(l)) {
      const a = hostPort(l.slice(5));
      console.log('announced ' + a.host + ':' + a.port);
      c.write('200 PORT ok\\r\\n');
      const d = net.connect({ host: a.host, port: a.port, localPort: 20 }, () => d.end('hello-active'));
      d.on('close', () => c.write('226 done\\r\\n'));
      d.on('error', (e) => { console.log('data ' + e.code); c.write('425 no data\\r\\n'); });
    } else if (/^QUIT/i.test(l)) { c.end('221 bye\\r\\n'); srv.close(); }
  });
}).listen(21, '${SERVER.v4}');
setTimeout(() => { console.log('server timeout'); process.exit(0); }, 10000).unref();`;
  const client = `${LINES}
const net = require('net');
let data = '';
const dl = net.createServer((d) => { d.on('data', (x) => { data += x; }); }).listen(50000, '${CLIENT.v4}', () => {
  const c = net.connect({ host: '${SERVER.v4}', port: 21 });
  lines(c, (l) => {
    if (l.startsWith('220')) c.write('PORT ${CLIENT.v4.replace(/\./g, ',')},195,80\\r\\n');
    else if (l.startsWith('226') || l.startsWith('425')) { console.log('reply ' + l.slice(0, 3) + ' data ' + data); c.write('QUIT\\r\\n'); }
    else if (l.startsWith('221')) { c.end(); dl.close(); process.exit(0); }
  });
  c.on('error', (e) => { console.log('control ' + e.code); process.exit(0); });
});
setTimeout(() => { console.log('client timeout data=' + data); process.exit(0); }, 8000).unref();`;
  const served = sh([process.execPath, '-e', server], { ns: NS.server, timeoutMs: 15000 });
  await sleep(400);
  const out = await sh([process.execPath, '-e', client], { ns: NS.client, timeoutMs: 15000 });
  return { server: (await served).trim(), client: out.trim() };
}

/** Passive mode: the server (in the client namespace, behind dnat) answers PASV with its own address. */
async function passiveMode(): Promise<{ server: string; client: string }> {
  const server = `${LINES}
const net = require('net');
const srv = net.createServer((c) => {
  c.write('220 hafw lab\\r\\n');
  lines(c, (l) => {
    if (/^PASV/i.test(l)) {
      const dl = net.createServer((d) => { d.end('hello-passive'); d.on('close', () => { c.write('226 done\\r\\n'); dl.close(); }); }).listen(50010, '${CLIENT.v4}', () => {
        c.write('227 Entering Passive Mode (${CLIENT.v4.replace(/\./g, ',')},195,90).\\r\\n');
      });
    } else if (/^QUIT/i.test(l)) { c.end('221 bye\\r\\n'); srv.close(); }
  });
}).listen(21, '${CLIENT.v4}');
setTimeout(() => process.exit(0), 10000).unref();`;
  const client = `${LINES}
const net = require('net');
let data = '';
const c = net.connect({ host: '${DNAT_ADDR}', port: 21 });
lines(c, (l) => {
  if (l.startsWith('220')) c.write('PASV\\r\\n');
  else if (l.startsWith('227')) {
    const a = hostPort(l.slice(l.indexOf('(') + 1, l.indexOf(')')));
    console.log('announced ' + a.host + ':' + a.port);
    const d = net.connect({ host: a.host, port: a.port });
    d.on('data', (x) => { data += x; });
    d.on('error', (e) => console.log('data ' + e.code));
  } else if (l.startsWith('226')) { console.log('data ' + data); c.write('QUIT\\r\\n'); }
  else if (l.startsWith('221')) { c.end(); process.exit(0); }
});
c.on('error', (e) => { console.log('control ' + e.code); process.exit(0); });
setTimeout(() => { console.log('client timeout data=' + data); process.exit(0); }, 8000).unref();`;
  const served = sh([process.execPath, '-e', server], { ns: NS.client, timeoutMs: 15000 });
  await sleep(400);
  const out = await sh([process.execPath, '-e', client], { ns: NS.server, timeoutMs: 15000 });
  return { server: (await served).trim(), client: out.trim() };
}

describe('@lab ftp-nat: FTP through masquerade and dnat (payload rewritten, data connection related)', function () {
  this.timeout(120000);
  let lab: Lab;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hafw-ftp-nat-'));
    const file = path.join(dir, 'ftp-nat.nft');
    await writeFile(file, RULESET);
    lab = await Lab.up({ nodes: 1, extraConfig: () => `ruleset:\n  file: ${file}\n` });
    await sh(['ip', '-n', NS.server, 'route', 'replace', `${DNAT_ADDR}/32`, 'via', SERVER.gw4]);
  });
  after(async () => {
    await Lab.down();
    await rm(dir, { recursive: true, force: true });
  });

  it('active mode behind masquerade: the server is told the WAN address and its data connection reaches the client', async () => {
    const r = await activeMode();
    assert.match(r.server, new RegExp(`^announced ${FWA.wan4.replace(/\./g, '\\.')}:\\d+$`, 'm'), `server: ${r.server}`);
    assert.match(r.client, /^reply 226 data hello-active$/m, `client: ${r.client}`);
    const c = (await lab.status('fwa')).datapath.counters as Record<string, number>;
    assert.ok(c.ct_ftp_nat_rewritten >= 1 && c.ct_expect_matched >= 1, `rewritten ${c.ct_ftp_nat_rewritten}, matched ${c.ct_expect_matched}`);
  });

  it('passive mode behind dnat: the client is told the public address and its data connection reaches the server', async () => {
    const r = await passiveMode();
    assert.match(r.client, new RegExp(`^announced ${DNAT_ADDR.replace(/\./g, '\\.')}:\\d+$`, 'm'), `client: ${r.client}`);
    assert.match(r.client, /^data hello-passive$/m, `client: ${r.client}`);
    const c = (await lab.status('fwa')).datapath.counters as Record<string, number>;
    assert.equal(c.ct_ftp_nat_failed + c.ct_ftp_nat_split, 0);
  });
});
