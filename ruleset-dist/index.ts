/**
 * Cluster-wide ruleset distribution: versions, history, push (UPDATE), pull (FETCH), drift
 * detection and repair. Independent of node/: the node adapts its ruleset service to
 * RulesetStore and passes a role source (node/daemon/ruleset-cluster.ts).
 */
export {
  RulesetDistributor, NotWriterError,
  type RulesetStore, type DistLog, type DistOptions, type DistStatus, type DistEvent, type DistCounters, type NodeVersion, type PeerView,
} from './distributor.js';
export { VersionHistory, type VersionEntry, type VersionMeta } from './history.js';
export { canonicalize, hashText } from './canonical.js';
export {
  encodeFrame, decodeFrame, encodeStreamFrame, decodeStreamFrame, decodeStreamHead, ReplayGuard, FrameError, STREAM_HEAD_BYTES,
  type Frame, type StreamHead, type DropReason,
} from './codec.js';
export { type DistRole, type Announce, type Update } from './messages.js';
export { type DistTransport, type StreamGate, type FetchServerCounters } from './transport.js';
export { UdpTcpTransport, type UdpTransportOptions } from './udp-transport.js';
export { DistRunner } from './runner.js';
export { systemClock, type DistClock, type DistLink, type FetchOut } from './ports.js';
