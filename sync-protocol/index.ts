/**
 * sync-protocol: conntrack / NAT state replication between cluster nodes.
 * Sans-I/O core (codec, reliability, resync, coalescing, lag) plus thin shells. Never
 * imports node/: the node adapts its table to StateSource / StateSink.
 */
export {
  EventKind, NAT_TABLE, RECORD_FIELDS, RECORD_TABLE, recordFieldsMarkdown,
  type FieldSpec, type FieldType, type RecordNat, type StateRecord,
} from './record-fields.js';
export { emptyRecord } from './record-codec.js';
export { recordKey, type StateSink, type StateSource } from './state-record.js';
export {
  HEADER_LEN, MAC_LEN, MAGIC, MAX_NACK_RANGES, MessageFlag, MessageType, VERSION,
  decodeMessage, encodeMessage, isSequenced, peekSender, recordBudget, recordSize,
  type Body, type DecodeError, type DecodeResult, type Header, type Message,
} from './wire.js';
export { Coalescer, type CoalescerOptions } from './coalescer.js';
export { StateMirror } from './state-mirror.js';
export { DataVerdict, ReliableReceiver, ReliableSender, type NackAnswer, type SentEntry } from './reliability.js';
export { BulkSender, ResyncState, TableBulk, type LocalWalk } from './resync.js';
export { lagFromEcho, rttFromEcho, syncClock } from './lag.js';
export { SYNC_DEFAULTS, SyncEndpoint, SyncStats, type DepartedPeer, type DropReason, type SyncConfig } from './endpoint.js';
export { EventRing, RING_WALK_END, RING_WALK_RECORD, SLOT_BYTES } from './ring.js';
export { UdpTransport, type UdpTransportOptions } from './udp-transport.js';
export { SyncRunner, type RunnerOptions, type Sender } from './runner.js';
export { SyncMetrics } from './metrics.js';
export { applyOps, OpBatchWriter, OP_BYTES, type FromWorker, type SyncWorkerData, type ToWorker } from './worker-messages.js';
export { SyncWorkerHandle } from './worker-host.js';
export { formatSyncStatus, syncStatus, type SyncStatusSnapshot } from './stats-format.js';
