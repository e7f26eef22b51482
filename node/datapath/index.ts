/** The datapath: the packet loop on the TUN device, its counters and kernel plumbing. */
export { COUNTER_NAMES, type CounterName, createCounterBuffer, readCounters } from './counters.js';
export { Verdict, type PacketStage, PassThroughStage } from './stage.js';
export { setupTunRouting, teardownTunRouting, rulePriorities, outputTable, LOCAL_PROTOCOLS, type TunRoutingPlan } from './kernel-plumbing.js';
export { OwnTrafficRouting } from './own-traffic-routes.js';
export { DatapathThread, DatapathDownError, type DatapathThreadOptions } from './datapath-thread.js';
