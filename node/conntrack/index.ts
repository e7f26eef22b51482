/**
 * Connection tracking: the table, TCP/UDP/ICMP trackers, timeouts and the state events
 * the sync protocol replicates. See tracker.ts for the per-packet contract
 * (track -> ruleset -> commit) and ct-types.ts for the vocabulary.
 */
export { ConnTracker, IMPORT_EXISTS, IMPORT_REFUSED, type CtEventHandler } from './tracker.js';
export { parseConntrackDump, MAX_LINE_CHARS, MAX_TIMEOUT_SECONDS, type CtImportEntry, type CtImportTuple, type CtImportParse, type CtImportProblem, type CtImportResult } from './ct-import-text.js';
export {
  type ConntrackOptions,
  CtDir,
  CtEventKind,
  CtResult,
  CtSnapshot,
  CtState,
  CtStats,
  CtStatus,
  type CtTimeouts,
  type CtReplyTupleLike,
  type CtTupleLike,
  DEFAULT_TIMEOUTS,
  TCP_STATE_NAMES,
  CT_GROUP_SHIFT,
  CT_STATUS_NO_GROUP,
  ctGroup,
  withCtGroup,
  TcpDirFlag,
  TcpState,
} from './ct-types.js';
export { type CtEntryJson, type CtTupleJson, snapshotToJson } from './ct-format.js';
export {
  runCtOp, CtQueryError, CtMatcher, checkFilter, protoNumber, DEFAULT_LIMIT, MAX_LIMIT, PROTO_NUMBERS,
  type CtOp, type CtOpResult, type CtFilter, type CtTupleQuery, type CtListedEntry,
} from './ct-query.js';
export {
  CT_EVENT_NAMES, CtEventMatcher, checkEventFilter, eventName, parseEventNames,
  type CtEventFilter, type CtEventJson, type CtEventName, type CtEventOut, type CtEventSubscriber,
} from './ct-events.js';
