/** The node daemon: config, logging, lifecycle. */
export { runNode, NodeDaemon } from './daemon.js';
export { loadConfig, parseConfigText, readConfig, type NodeConfig } from './config.js';
export { ConfigError } from './config-reader.js';
export { createLogger } from './logger.js';
