/** Structured logs: one JSON object a line on stdout (pino), with the node's name. */
import { pino, type Logger } from 'pino';

export function createLogger(nodeName: string, level: string): Logger {
  return pino({ level, base: { node: nodeName, pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
}
