/**
 * The datapath: the packet loop on the TUN device, its counters and kernel plumbing.
 *
 * The folder says which thread a file runs on (README.md here):
 * - `worker/`  the datapath worker thread: the packet loop on a PacketDevice (the TUN device;
 *              an in-memory one in tests), the stages (defrag, filter, NAT, reject), conntrack
 *              gc, the sync bridge, the sniffer. `worker/worker.ts` is the thread's entry and
 *              only adapts parentPort/workerData to buildDatapath (`worker/datapath.ts`);
 *              nothing in `worker/` imports `control/`.
 * - `control/` the node's main (control) thread and the CLI: the handle that starts the
 *              worker (DatapathThread), kernel plumbing and route/address reading via `ip`,
 *              ruleset warnings and the lock-out probe, offline replay. The last two run a
 *              private scratch copy of `worker/` classes in their own thread.
 * - `shared/`  what both threads agree on: the messages between them, the counter layout in
 *              shared memory, the clock.
 *
 * This index is the control thread's entry: the daemon imports the datapath from here.
 */
export { COUNTER_NAMES, type CounterName, createCounterBuffer, readCounters } from './shared/counters.js';
export { setupTunRouting, teardownTunRouting, rulePriorities, outputTable, LOCAL_PROTOCOLS, type TunRoutingPlan } from './control/kernel-plumbing.js';
export { inputDeviceNames, inputTable, type InputDevicesMode } from './shared/input-devices.js';
export { OwnTrafficRouting } from './control/own-traffic-routes.js';
export { DatapathThread, DatapathDownError, type DatapathThreadOptions } from './control/datapath-thread.js';
