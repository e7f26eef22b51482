/**
 * One TCP connection held idle, run inside hafw-client (a failover test's quiet session,
 * like an SSH session nobody types in):
 *   node idle-flow.js --host H --port P [--echo-timeout-ms 5000] [--max-seconds 120]
 * Connects to the echo server, checks one echo and prints {"ready":true}; then sends
 * nothing until a line arrives on stdin. For each line it sends one message and prints
 * {"echoed":true,"ms":M} when the echo is back, or {"echoed":false,"error":...} after the
 * echo timeout (its segments dropped somewhere: TCP keeps retransmitting, we stop waiting).
 * Bounded: ends when stdin closes, the connection fails, or after --max-seconds.
 */
import net from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    host: { type: 'string' },
    port: { type: 'string', default: '5001' },
    'echo-timeout-ms': { type: 'string', default: '5000' },
    'max-seconds': { type: 'string', default: '120' },
  },
});
const echoTimeoutMs = Math.min(Number(values['echo-timeout-ms']), 60_000);
const maxMs = Math.min(Number(values['max-seconds']), 600) * 1000;

const say = (o: object): void => void process.stdout.write(`${JSON.stringify(o)}\n`);

const sock = net.connect({ host: values.host!, port: Number(values.port) });
const life = setTimeout(() => process.exit(2), maxMs);
life.unref();
let waiting: { text: string; got: string; at: number; timer: ReturnType<typeof setTimeout>; done: (ok: boolean, error?: string) => void } | undefined;

function exchange(text: string, done: (ok: boolean, error?: string) => void): void {
  const at = performance.now();
  const timer = setTimeout(() => {
    waiting = undefined;
    done(false, `no echo within ${echoTimeoutMs} ms`);
  }, echoTimeoutMs);
  waiting = { text, got: '', at, timer, done };
  sock.write(text);
}

sock.setNoDelay(true);
sock.on('data', (d: Buffer) => {
  const w = waiting;
  if (!w) return;
  w.got += d.toString('latin1');
  if (w.got.length >= w.text.length) {
    clearTimeout(w.timer);
    waiting = undefined;
    w.done(w.got === w.text, w.got === w.text ? undefined : 'echo differs');
  }
});
sock.on('error', (err) => {
  say({ echoed: false, error: err.message });
  process.exit(1);
});
sock.on('close', () => process.exit(0));
sock.on('connect', () => {
  exchange('hello\n', (ok, error) => {
    if (!ok) {
      say({ ready: false, error });
      process.exit(1);
    }
    say({ ready: true, localPort: sock.localPort });
    let n = 0;
    const lines = createInterface({ input: process.stdin });
    lines.on('line', () => {
      const at = performance.now();
      exchange(`after the quiet ${++n}\n`, (echoed, err) => say(echoed ? { echoed, ms: Math.round(performance.now() - at) } : { echoed, error: err }));
    });
    lines.on('close', () => sock.destroy());
  });
});
