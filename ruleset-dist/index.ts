/**
 * Cluster-wide ruleset distribution: versions, history, push (UPDATE), pull (FETCH), drift
 * detection and repair. Independent of node/: the node adapts its ruleset service to
 * RulesetStore and passes a role source (node/daemon/ruleset-cluster.ts).
 */
export {
  RulesetDistributor, NotWriterError,
  type RulesetStore, type DistLog, type DistStatus, type DistEvent, type DistCounters, type NodeVersion,
} from './distributor.js';
export { canonicalize } from './canonical.js';
export {
  encodeFrame, decodeFrame, encodeStreamFrame, decodeStreamFrame, decodeStreamHead, FrameError, STREAM_HEAD_BYTES,
  type Frame, type DropReason,
} from './codec.js';
export { type DistRole, type Update } from './messages.js';
export { type DistTransport, type FetchServerCounters } from './transport.js';
export { UdpTcpTransport, type UdpTcpTransportOptions } from './udp-transport.js';
export { DistRunner } from './runner.js';
