/**
 * Installing a binding that was made on the peer (state sync): the standby keeps the same
 * translated address and port, so when it takes over, the connection's packets are
 * translated exactly as before and the far end sees no change.
 *
 * The port is marked taken in the standby's own allocator, so a connection the standby
 * NATs later (after takeover) cannot be given the same public port. A clash (the port is
 * already taken, e.g. by a stale local entry) is reported; the binding is still usable,
 * it just does not own the port and will not release it.
 */
import { NAT_SRC, NatBinding, NatManip } from './binding.js';
import { PortAllocator, allocatesPorts } from './port-allocator.js';

export const enum InstallResult {
  /** Installed; the port (if any) is now held by this binding. */
  Ok = 0,
  /** Installed, but its port was already taken here (counted as a reserve conflict). */
  PortConflict = 1,
}

/** Reserves the port of a replicated binding (decoded with decodeBinding) in `alloc`. */
export function installReplicatedBinding(b: NatBinding, alloc: PortAllocator): InstallResult {
  b.pool = null;
  b.dstPool = null;
  if ((b.manip & NatManip.Src) === 0 || !allocatesPorts(b.proto)) return InstallResult.Ok;
  const pool = alloc.pool(b.family as 4 | 6, b.addrs, NAT_SRC, b.proto);
  if (!alloc.reserve(pool, b.natSport)) return InstallResult.PortConflict;
  b.pool = pool;
  return InstallResult.Ok;
}
