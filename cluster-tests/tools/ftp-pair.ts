/**
 * A tiny FTP-like exchange in active mode (PORT), for the failover test of the FTP helper's
 * replication: not an FTP implementation, only what the helper reads. One JSON line per
 * step on stdout. Bounded: every wait has a timeout, and the process ends after
 * --max-seconds.
 *
 *   node ftp-pair.js --role server [--port 21]
 *     Listens; on a control connection says "220", answers "PORT h,h,h,h,p,p" with "200" and
 *     prints {"port":{"host":H,"port":P}}; at a line "go" on stdin connects from port 20 to
 *     H:P (the data connection), sends "DATA-OK\n" and prints {"sent":true} (or
 *     {"sent":false,"error":...}).
 *   node ftp-pair.js --role client --host S [--port 21] --addr A --data-port P
 *     Listens on A:P, opens the control connection to S, sends "PORT" naming A:P and prints
 *     {"announced":true} after the "200"; prints {"data":TEXT} for what the data connection
 *     brings, or {"data":null,"error":...} after --data-timeout-ms.
 */
import net from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    role: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'string', default: '21' },
    addr: { type: 'string' },
    'data-port': { type: 'string', default: '50000' },
    'data-timeout-ms': { type: 'string', default: '30000' },
    'max-seconds': { type: 'string', default: '120' },
  },
});
const say = (o: object): void => void process.stdout.write(`${JSON.stringify(o)}\n`);
const life = setTimeout(() => process.exit(2), Math.min(Number(values['max-seconds']), 600) * 1000);
life.unref();

/** Calls `line` for each CRLF- or LF-ended line the socket brings. */
function lines(sock: net.Socket, line: (l: string) => void): void {
  let buf = '';
  sock.setEncoding('latin1');
  sock.on('data', (d: string) => {
    buf += d;
    if (buf.length > 4096) sock.destroy();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      line(buf.slice(0, i).replace(/\r$/, ''));
      buf = buf.slice(i + 1);
    }
  });
}

if (values.role === 'server') {
  let data: { host: string; port: number } | undefined;
  const server = net.createServer((ctl) => {
    ctl.write('220 ready\r\n');
    lines(ctl, (l) => {
      const m = /^PORT (\d+),(\d+),(\d+),(\d+),(\d+),(\d+)$/.exec(l);
      if (!m) return void ctl.write('500 ?\r\n');
      const n = m.slice(1).map(Number);
      data = { host: n.slice(0, 4).join('.'), port: n[4]! * 256 + n[5]! };
      ctl.write('200 PORT ok\r\n');
      say({ port: data });
    });
    ctl.on('error', () => {});
  });
  server.listen(Number(values.port), () => say({ listening: true }));
  createInterface({ input: process.stdin }).on('line', (l) => {
    if (l.trim() !== 'go') return;
    if (data === undefined) return say({ sent: false, error: 'no PORT yet' });
    const d = net.connect({ host: data.host, port: data.port, localPort: 20 });
    const timer = setTimeout(() => {
      d.destroy();
      say({ sent: false, error: 'data connection not established' });
    }, Number(values['data-timeout-ms']));
    d.on('connect', () => d.end('DATA-OK\n', () => {
      clearTimeout(timer);
      say({ sent: true });
    }));
    d.on('error', (e) => {
      clearTimeout(timer);
      say({ sent: false, error: e.message });
    });
  });
  process.stdin.on('end', () => process.exit(0));
} else if (values.role === 'client') {
  const addr = values.addr!;
  const dataPort = Number(values['data-port']);
  const listener = net.createServer((d) => {
    let got = '';
    d.setEncoding('latin1');
    d.on('data', (x: string) => (got += x));
    d.on('end', () => {
      clearTimeout(timer);
      say({ data: got.trim() });
      process.exit(0);
    });
    d.on('error', () => {});
  });
  const timer = setTimeout(() => {
    say({ data: null, error: `no data connection within ${values['data-timeout-ms']} ms` });
    process.exit(1);
  }, Number(values['data-timeout-ms']));
  listener.listen(dataPort, addr, () => {
    const ctl = net.connect({ host: values.host!, port: Number(values.port) });
    ctl.on('error', (e) => say({ announced: false, error: e.message }));
    lines(ctl, (l) => {
      if (l.startsWith('220')) ctl.write(`PORT ${addr.split('.').join(',')},${dataPort >> 8},${dataPort & 255}\r\n`);
      else if (l.startsWith('200')) say({ announced: true });
    });
  });
} else {
  say({ error: 'unknown --role' });
  process.exit(1);
}
