/**
 * @lab ftp failover: an FTP transfer's data connection survives the death of the master
 * between the announcement and the data connection. Active mode: the client announces its
 * data port (PORT) on the control connection through fwa; fwa is killed; the server then
 * opens the data connection from the outside, which a strict ruleset (nothing new accepted
 * from wan) lets through only as `ct state related`, i.e. only because fwb holds the
 * expectation fwa replicated with the control connection.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { COMPILED_ROOT, LAB_DIR, Lab } from './lab.js';
import { CLIENT, NS, SERVER } from './topology.js';
import { nsArgv, sleep } from './exec.js';

const FTP_PAIR = path.join(COMPILED_ROOT, 'cluster-tests', 'tools', 'ftp-pair.js');

/** Strict: from wan only established and related; the FTP helper on control connections. */
const FTP_RULESET = `table inet filter {
  ct helper ftp-std { type "ftp" protocol tcp; }
  chain pre {
    type filter hook prerouting priority filter; policy accept;
    tcp dport 21 ct helper set "ftp-std"
  }
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    ct state invalid counter drop
    iifname "lan" ct state new accept
  }
}
`;

/** A tool process with its JSON lines. */
function agent(ns: string, args: string[]): { p: ChildProcessByStdio<Writable, Readable, null>; next(what: string, ms?: number): Promise<Record<string, unknown>> } {
  const argv = nsArgv(ns, [process.execPath, FTP_PAIR, ...args]);
  const p = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  const it = createInterface({ input: p.stdout })[Symbol.asyncIterator]();
  return {
    p,
    async next(what, ms = 15000) {
      const l = await Promise.race([it.next(), sleep(ms).then(() => ({ value: undefined, done: true }))]);
      if (typeof l.value !== 'string') throw new Error(`ftp-pair: no answer (${what})`);
      return JSON.parse(l.value) as Record<string, unknown>;
    },
  };
}

/** A metric's value in `hafw metrics` text (its labels, such as the node's name, ignored unless given in `name`). */
function metric(text: string, name: string): number {
  const m = new RegExp(`^${name.replace(/[{}]/g, (c) => `\\${c}`)}[^ ]* (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

describe('@lab ftp failover: the expectation is replicated', function () {
  this.timeout(180000);
  let lab: Lab;

  after(async () => {
    await Lab.down();
  });

  it('active mode: master killed after the PORT, before the data connection; the data connection passes the new master as related', async () => {
    await mkdir(LAB_DIR, { recursive: true });
    const file = path.join(LAB_DIR, 'ftp-strict.nft');
    await writeFile(file, FTP_RULESET);
    lab = await Lab.up({ nodes: 2, extraConfig: () => `ruleset:\n  file: ${file}\n` });
    await lab.waitRole('fwa', 'master');
    await lab.waitRole('fwb', 'backup');
    const server = agent(NS.server, ['--role', 'server', '--port', '21', '--data-timeout-ms', '15000']);
    let client: ReturnType<typeof agent> | undefined;
    try {
      // The client starts once the server listens (started together, it was refused once in CI).
      assert.deepEqual(await server.next('listen'), { listening: true });
      client = agent(NS.client, ['--role', 'client', '--host', SERVER.v4, '--port', '21', '--addr', CLIENT.v4, '--data-port', '50000', '--data-timeout-ms', '60000']);
      assert.deepEqual(await client.next('PORT'), { announced: true }, 'the control connection is up through fwa');
      assert.deepEqual(await server.next('PORT seen'), { port: { host: CLIENT.v4, port: 50000 } });
      // fwb holds the expectation (replicated with the control connection's record).
      for (let i = 0; ; i++) {
        if (metric(await lab.hafw('fwb', ['metrics']), 'hafw_conntrack_expectations{') >= 1) break;
        if (i > 100) {
          const pick = async (fw: string): Promise<string> => (await lab.hafw(fw, ['metrics'])).split('\n').filter((l) => /expectation|ftp|sync_dropped|sync_records/.test(l) && !l.startsWith('#')).join('\n');
          throw new Error(`fwb never got the expectation\nfwa:\n${await pick('fwa')}\nfwb:\n${await pick('fwb')}\nfwb ct:\n${await lab.hafw('fwb', ['ct', 'list'])}`);
        }
        await sleep(100);
      }
      await lab.stopNode('fwa', 'SIGKILL');
      await lab.waitRole('fwb', 'master');
      // Now the server opens the data connection, from the outside, through fwb.
      server.p.stdin.write('go\n');
      const sent = await server.next('data connection', 20000);
      assert.deepEqual(sent, { sent: true }, `the data connection is accepted by the new master (${JSON.stringify(sent)})`);
      assert.deepEqual(await client.next('data'), { data: 'DATA-OK' });
      const metrics = await lab.hafw('fwb', ['metrics']);
      assert.ok(metric(metrics, 'hafw_conntrack_expectations_total{event="matched"') >= 1, 'related through the expectation on fwb');
    } finally {
      server.p.kill('SIGKILL');
      client?.p.kill('SIGKILL');
    }
  });
});
