/** High availability on the node: failover/'s VRRP wired to real sockets and `ip addr`. */
export { VrrpService, type VrrpStatus } from './vrrp-service.js';
export { IprouteVipMover } from './vip-mover.js';
export { realClock, RawVrrpSocket, PacketFrameSender, SysfsLinkState, macOf } from './vrrp-ports.js';
export { DrillService, DrillRefused, type DrillReport, type DrillVrrp, type DrillDeps, type DrillPhase } from './api-drill.js';
