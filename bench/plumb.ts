/**
 * Runs the node's kernel plumbing (policy routing into the TUN device) inside the current
 * namespace, for a forwarder that is not hafw (the bench's C baseline). Same code as the
 * node uses, so both are measured on the same packet path.
 *   node dist/bench/plumb.js TUN IF [IF...]
 */
import { setupTunRouting } from '../node/datapath/index.js';

const [tun, ...interfaces] = process.argv.slice(2);
if (!tun || interfaces.length === 0) {
  console.error('usage: plumb.js TUN IF [IF...]');
  process.exit(2);
}
await setupTunRouting({ tun, interfaces, table: 100, rulePriority: 100, mtu: 1500, txQueueLen: 1000 });
