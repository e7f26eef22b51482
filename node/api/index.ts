/** The node's API: HTTP server on the control socket, and its client. */
export { startControlServer, startManagementServer, stopControlServer, type NodeView, type NodeStatus } from './server.js';
export { controlRequest, ControlError } from './client.js';
export { defaultControlSocket, resolveControlSocket, netnsId, CONTROL_DIR } from './control-socket.js';
export { createNodeMetrics, type MetricsSource } from './metrics.js';
export { registerRulesetRoutes, RulesetApiError, type RulesetView, type RulesetTxResult } from './ruleset-routes.js';
