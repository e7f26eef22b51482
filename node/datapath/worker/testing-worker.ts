/**
 * Test double of worker.ts for datapath-thread.test.ts: speaks the control messages without
 * a TUN device. Its faults are steered by the `sniff` message (a stand-in nobody else uses
 * here): active=true reports that its sync worker failed (`fatal`), active=false crashes the
 * thread with an uncaught error. Not loaded by the node.
 */
import { parentPort } from 'node:worker_threads';
import type { FromDatapath, ToDatapath } from '../shared/messages.js';

const port = parentPort!;
const send = (m: FromDatapath): void => port.postMessage(m);

send({ type: 'ready', tunName: 'fake0', vnetHdrLen: 0 });
port.on('message', (m: ToDatapath) => {
  switch (m.type) {
    case 'ct-count':
      send({ type: 'ct-count', id: m.id, total: 7, replicated: 2, capacity: 1024 });
      break;
    case 'sync-report':
      send({ type: 'sync-report', id: m.id, report: null });
      break;
    case 'sniff':
      if (m.active) send({ type: 'fatal', message: 'state sync worker failed: sync worker exited with code 1' });
      else setImmediate(() => {
        throw new Error('injected crash');
      });
      break;
    case 'stop':
      send({ type: 'stopped' });
      port.close();
      break;
    default:
      break;
  }
});
