/**
 * failover/: VRRPv3 (RFC 5798 / RFC 9568) for moving the virtual IPs between the
 * firewalls, as a sans-I/O core plus a thin shell over small ports that node/
 * implements (raw sockets, AF_PACKET, netlink, `ip addr`, the sync worker).
 */

export {
  type IpBytes, type IpFamily, parseIp, parseIpv4, parseIpv6, ip, formatIp, compareIp, ipEquals,
  VRRP_GROUP_V4, VRRP_GROUP_V6, vrrpGroup
} from './ip-address.js';
export {
  type VrrpAdvertisement, type ChecksumVariant, type ChecksumContext, type VrrpDecodeError,
  type VrrpDecodeResult, type DecodeOptions, encode, decode, encodingLength, computeChecksum, IPPROTO_VRRP,
  VRRP_TTL, MAX_ADVER_INT_CS
} from './vrrp-packet.js';
export {
  type Ipv4Envelope, type Ipv4EnvelopeError, type ReceivedDatagram, type ReceiveExpectations,
  type VrrpReceiveError, type VrrpReceiveResult, parseIpv4Envelope, receiveAdvertisement,
  receiveIpv4Datagram
} from './vrrp-receive.js';
export { type VrrpTimers, vrrpTimers } from './vrrp-timers.js';
export {
  VrrpRouter, type VrrpRouterConfig, type VrrpState, type VrrpEvent, type VrrpAction, type TransitionReason,
  type TrackedLink, type LinkRole
} from './vrrp-state-machine.js';
export {
  type MacAddress, parseMac, formatMac, virtualRouterMac, buildGratuitousArp, buildUnsolicitedNa,
  planAnnouncements, type AnnouncedVip, type AnnounceOptions, type AnnounceStep, type NaOptions
} from './garp.js';
export { type Vip, type VipMover, VipGroup, type VipGroupResult, parseVip } from './vip-group.js';
export {
  NotifyQueue, type NotifyHook, type NotifyEvent, type NotifyResult, type NotifyLogger,
  type NotifyQueueOptions, runHook, type HookRun, type HookOutcome, type HookSpawner
} from './notify.js';
export {
  type Clock, type TimerHandle, type TimerOptions, type PacketSender, type FrameSender, type SyncReadinessSource,
  type LinkStateSource, type MacSource, ManualClock, type AdvertCopy, type AdvertOutcome, type AdvertRepeater
} from './ports.js';
export { type TakeoverTiming, type TakeoverPhases, takeoverPhases, shiftTiming } from './takeover.js';
export {
  VrrpInstance, type VrrpInstanceConfig, type VrrpInstancePorts, type VrrpInstanceEvent,
  type VrrpInstanceCounters
} from './vrrp-instance.js';
export {
  type DrillMode, type DrillFlowTrace, type DrillTakeoverPhases, formatPhases, type DrillInput, type DrillReport, DRILL_TARGETS, computeDrillReport,
  formatDrillReport, drillReportJson, summarizeDrills, longestProbeGap, percentile
} from './drill-report.js';
export {
  type ScenarioAction, type ScenarioStep, type ProbeStream, type GroupDrillInput, type ScenarioCheck, type ScenarioInput,
  type GroupStepReport, type GroupDrillReport, type ScenarioReport, computeScenarioReport, formatScenarioReport,
  scenarioReportJson, longestGapIn
} from './drill-scenario.js';
export { VrrpGroups, type VrrpGroupRef, type VrrpGroupsCounters } from './vrrp-groups.js';
