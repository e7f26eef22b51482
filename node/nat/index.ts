/**
 * node/nat: source and destination NAT for the packet path, as a library the
 * node wires between the ruleset and conntrack. See docs/nat.md.
 *
 * Wiring (what the lead connects):
 * - Ruleset: each snat / masquerade / dnat / redirect statement compiles to a NatRequest
 *   (`natRequest(kind, { to, flags })`, target text parsed by `parseNatTarget`). On the
 *   first packet of a connection the chain evaluation hands it, with the packet, to
 *   `setupNat(entry.binding, req, pkt, allocator, ifaceAddr)`; on NatSetupStatus other
 *   than Ok the packet is dropped (PortsExhausted is counted by the allocator).
 *   After prerouting (DNAT/redirect) call `applyNat(pkt, b, 'original', NatManip.Dst)` so
 *   postrouting sees the new destination; after postrouting (SNAT/masquerade)
 *   `applyNat(pkt, b, 'original', NatManip.Src)`.
 * - Conntrack: each entry owns one NatBinding. Before the entry is confirmed, its reply
 *   tuple must become `replyTuple(b, out)` (the inverted translated tuple; or
 *   `writeReplyTuple(b, snapshotLike)` in conntrack's field names), which is what it must
 *   hash so replies find it. Later packets: `applyNat(pkt, b, dir)` with the direction the
 *   lookup found. ICMP errors: look up the inverted quoted tuple; the direction found is
 *   the error's direction; call `applyNat(errorPkt, b, thatDir)`. On destroy:
 *   `allocator.releaseBinding(b)`.
 * - State sync: either `encodeBinding` into the entry's record and `decodeBinding` on the
 *   standby, or (no extra bytes) `bindingFromTuplePair(snapshot, b)` from the replicated
 *   original + reply tuples; then `installReplicatedBinding(b, allocator)` so the
 *   standby's allocator holds the port.
 */
export {
  NAT_DST,
  NAT_SRC,
  NatBinding,
  NatKind,
  NatManip,
  ORIG_DST,
  ORIG_SRC,
  bindingUsesSourceAddress,
  clearBinding,
  copyBinding,
  describeBinding,
  initBinding,
  initBindingFromPacket,
  natKindName,
  originalTuple,
  replyTuple,
  setDestNat,
  setSourceNat,
  translatedTuple,
} from './binding.js';
export { MAX_BINDING_WIRE_LEN, bindingWireLength, decodeBinding, encodeBinding } from './binding-codec.js';
export { NatFlags } from './nat-flags.js';
export {
  MAX_SCAN_WORDS,
  PORT_EXHAUSTED,
  PortAllocator,
  type PortAllocatorOptions,
  type PortAllocatorStats,
  PortPool,
  allocatesPorts,
  defaultPortRange,
} from './port-allocator.js';
export { InstallResult, installReplicatedBinding } from './replicate.js';
export {
  type NatRequest,
  type NatRequestOptions,
  type NatTarget,
  addressRangeError,
  natRequest,
  parseNatTarget,
} from './request.js';
export { MAX_ADDRESS_TRIES, NatSetupStatus, setupNat } from './setup.js';
export { type NatDirection, NatResult, applyNat, translateIcmpError } from './translate.js';
export { type NatTuplePair, bindingFromTuplePair, writeReplyTuple } from './tuple-pair.js';
export { NatTuple, copyTuple, hasPorts, invertTuple, isIcmpProto, tupleEqual, tupleFromPacket } from './tuple.js';
