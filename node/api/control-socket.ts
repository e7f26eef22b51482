/**
 * Where a node's local control socket lives. Each network namespace runs at most one node,
 * so the socket is named after the namespace's identity (the inode of /proc/self/ns/net):
 * `ip netns exec hafw-fwa hafw status` finds fwa's node with no flags, and the file's mode
 * (0600, root) is the access control.
 */
import { readlinkSync } from 'node:fs';

export const CONTROL_DIR = process.env.HAFW_RUN_DIR ?? '/run/hafw';

export function netnsId(): string {
  try {
    // "net:[4026531840]"
    const link = readlinkSync('/proc/self/ns/net');
    const m = /\[(\d+)\]/.exec(link);
    return m ? m[1]! : 'default';
  } catch {
    return 'default';
  }
}

export function defaultControlSocket(): string {
  return `${CONTROL_DIR}/ctl-${netnsId()}.sock`;
}

export function resolveControlSocket(configured: string): string {
  return configured === 'auto' ? defaultControlSocket() : configured;
}
