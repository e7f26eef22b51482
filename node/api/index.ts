/** The node's API: HTTP server on the control socket, and its client. */
export { startControlServer, startManagementServer, stopControlServer, setListenerTls, buildApp, API_VERSION, type NodeView, type NodeStatus, type ListenerOptions } from './server.js';
export { StreamLimit, DEFAULT_MAX_EVENT_STREAMS } from './stream-limit.js';
export { controlRequest, ControlError } from './client.js';
export { defaultControlSocket, resolveControlSocket, netnsId, CONTROL_DIR } from './control-socket.js';
export { createNodeMetrics, type MetricsSource } from './metrics.js';
export { registerRulesetRoutes, RulesetApiError, type RulesetView, type RulesetTxResult } from './ruleset-routes.js';
export { EventBus, EVENT_TYPES, parseTypes, type BusEvent, type EventListener, type KnownEventType } from './event-bus.js';
export { type ControlView, MAX_STREAM_BUFFER_BYTES } from './control-routes.js';
export { TapHub, type TapSink } from './tap-hub.js';
export { buildClusterInfo, formatClusterInfo, type ClusterInfo, type VrrpPeerHeard } from './cluster-view.js';
export { runCtOp, CtQueryError, CtMatcher, type CtOp, type CtOpResult, type CtFilter, type CtTupleQuery, type CtListedEntry } from '../conntrack/index.js';
export { SyncAlarmWatcher, ALARM_COUNTERS, type SyncAlarm } from './sync-alarms.js';
