/**
 * An attacker (or a confused peer) on the sync segment, run inside a firewall namespace:
 *
 *   forge   --group G --port P --iface A --node N --epoch E --seq S [--records K]
 *           sends one DATA message claiming to come from node N (epoch E, sequence S) with K
 *           new UDP connections (192.0.2.250:40000+i -> 198.51.100.100:9), authenticated
 *           with a random key instead of the cluster's: it must be dropped as `auth`.
 *   capture --group G --port P --iface A --node N [--timeout-ms T]
 *           joins the group (beside the node's own socket: both bind the group with
 *           SO_REUSEADDR) and prints, as hex, the first DATA message from node N that
 *           carries records; exits 1 without one within T ms.
 *   send    --group G --port P --iface A --hex H [--times K]
 *           sends those bytes again, unchanged, K times: a replay.
 *
 * Prints one JSON object. Sockets name the interface, TTL 1 (DESIGN §6); loop-back is off
 * so the node in the sending namespace does not hear its own forgery.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { EventKind, MessageType, UdpTransport, emptyRecord, encodeMessage, syncClock, type StateRecord } from '../../sync-protocol/index.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    group: { type: 'string', default: '239.255.72.70' },
    port: { type: 'string', default: '3780' },
    iface: { type: 'string' },
    node: { type: 'string' },
    epoch: { type: 'string', default: '1' },
    seq: { type: 'string', default: '1' },
    records: { type: 'string', default: '4' },
    hex: { type: 'string' },
    times: { type: 'string', default: '1' },
    'timeout-ms': { type: 'string', default: '5000' },
  },
});
const mode = positionals[0];
if (!values.iface) throw new Error('--iface (the sync interface address) is required');
const opts = { mode: 'multicast' as const, group: values.group, port: Number(values.port), ifaceAddr: values.iface, loopback: false };

function forgedRecord(i: number, stamp: number): StateRecord {
  const src = Uint8Array.of(192, 0, 2, 250);
  const dst = Uint8Array.of(198, 51, 100, 100);
  return {
    ...emptyRecord(), kind: EventKind.New, family: 4, proto: 17,
    origSrc: src, origDst: dst, origSport: 40000 + i, origDport: 9,
    replySrc: dst, replyDst: src, replySport: 9, replyDport: 40000 + i,
    timeoutMs: 600_000, stamp,
  };
}

async function sendAll(bufs: Buffer[]): Promise<void> {
  const t = await UdpTransport.open(opts, () => undefined);
  for (const b of bufs) t.send(b);
  // Let the kernel take the datagrams before the socket closes.
  await new Promise((r) => setTimeout(r, 100));
  await t.close();
}

if (mode === 'forge') {
  const now = syncClock();
  const n = Math.min(Number(values.records), 32);
  const msg = encodeMessage(
    {
      type: MessageType.Data, flags: 0, node: Number(values.node), epoch: Number(values.epoch), seq: Number(values.seq) >>> 0, time: now,
      records: Array.from({ length: n }, (_, i) => forgedRecord(i, now)),
    },
    randomBytes(32),
  );
  await sendAll([msg]);
  console.log(JSON.stringify({ sent: 1, bytes: msg.length, records: n }));
} else if (mode === 'capture') {
  const node = Number(values.node);
  const timeoutMs = Math.min(Number(values['timeout-ms']), 60_000);
  let t: UdpTransport | undefined;
  const hex = await new Promise<string | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), timeoutMs);
    void UdpTransport.open(opts, (buf) => {
      // Header (docs/sync-protocol.md §2): type at 3, sender node at 8, payload length at 20.
      if (buf.length < 64 || buf[3] !== MessageType.Data || buf.readUInt32BE(8) !== node || buf.readUInt32BE(20) <= 1) return;
      clearTimeout(timer);
      resolve(buf.toString('hex'));
    }).then((x) => {
      t = x;
      console.error('listening');
    });
  });
  await t?.close();
  if (hex === undefined) {
    console.log(JSON.stringify({ captured: false }));
    process.exitCode = 1;
  } else console.log(JSON.stringify({ captured: true, hex }));
} else if (mode === 'send') {
  if (!values.hex) throw new Error('--hex is required');
  const buf = Buffer.from(values.hex, 'hex');
  const times = Math.min(Number(values.times), 100);
  await sendAll(Array.from({ length: times }, () => buf));
  console.log(JSON.stringify({ sent: times, bytes: buf.length }));
} else throw new Error(`unknown mode ${mode}: forge | capture | send`);
