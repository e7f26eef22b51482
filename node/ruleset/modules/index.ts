/** Registers every built-in module with a registry: this list is the whole catalogue. */
import { Registry } from '../registry.js';
import { registerIpv4 } from '../l3-ipv4.js';
import { registerIpv6 } from '../l3-ipv6.js';
import { CT_STATE, CT_STATUS, ICMP_TYPE, ICMPV6_TYPE, IFNAME, INET_PROTO, INET_SERVICE, MARK, NF_PROTO, TCP_FLAG } from '../data-types.js';
import { registerPorts } from './l4-ports.js';
import { registerTcpFlags } from './tcp-flags.js';
import { registerTcpOptions } from './tcp-options.js';
import { registerMeta } from './meta.js';
import { registerMetaPacket } from './meta-packet.js';
import { registerIpFields } from './ip-fields.js';
import { registerIpHeader } from './ip-header.js';
import { registerCt } from './ct.js';
import { registerCtTuple } from './ct-tuple.js';
import { registerFib } from './fib.js';
import { registerMetaTime } from './meta-time.js';
import { registerMatch } from './match.js';
import { registerVerdicts } from './verdicts.js';
import { registerCounter } from './counter.js';
import { registerLog } from './log.js';
import { registerLimit } from './limit.js';
import { registerQuota } from './quota.js';
import { registerMangle } from './mangle.js';
import { registerNotrack } from './notrack.js';
import { registerReject } from './reject.js';
import { registerVmap } from './vmap.js';
import { registerNat } from './nat.js';
import { registerHashGen } from './hash-gen.js';
import { registerDynset } from './dynset.js';
import { registerCtCount } from './ct-count.js';
import { registerRt } from './rt.js';
import { registerIp6Exthdr } from './ip6-exthdr.js';
import { registerRawPayload } from './raw-payload.js';
import { registerSctpChunks } from './sctp-chunks.js';
import { registerCtHelper } from './ct-helper.js';
import { registerFlowOffload } from './flow-offload.js';

export function registerBuiltins(r: Registry): Registry {
  for (const t of [INET_SERVICE, INET_PROTO, NF_PROTO, MARK, ICMP_TYPE, ICMPV6_TYPE, CT_STATE, CT_STATUS, TCP_FLAG, IFNAME]) r.registerType(t);
  registerIpv4(r);
  registerIpv6(r);
  registerPorts(r);
  registerTcpFlags(r);
  registerTcpOptions(r);
  registerMeta(r);
  registerMetaPacket(r);
  registerIpFields(r);
  registerIpHeader(r);
  registerCt(r);
  registerCtTuple(r);
  registerFib(r);
  registerMetaTime(r);
  registerHashGen(r);
  registerRt(r);
  registerIp6Exthdr(r);
  registerRawPayload(r);
  registerSctpChunks(r);
  registerMatch(r);
  registerVerdicts(r);
  registerCounter(r);
  registerLog(r);
  registerLimit(r);
  registerQuota(r);
  registerMangle(r);
  registerNotrack(r);
  registerFlowOffload(r);
  registerReject(r);
  registerVmap(r);
  registerNat(r);
  registerDynset(r);
  registerCtCount(r);
  registerCtHelper(r);
  return r;
}

let defaultRegistry: Registry | undefined;

/** The registry with every built-in module (shared, built once). */
export function builtinRegistry(): Registry {
  return (defaultRegistry ??= registerBuiltins(new Registry()));
}
