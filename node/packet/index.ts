/**
 * node/packet: zero-copy header views and checksums for IPv4, IPv6, TCP, UDP, ICMP and
 * ICMPv6; address text; test packet builders; capture file codecs.
 */
export { GsoType, IpProto, PacketInfo, ParseStatus, TcpFlag, VnetFlags } from './packet-info.js';
export { MAX_IPV6_EXT_HEADERS, VNET_HDR_MIN_LEN, parseInner, parsePacket } from './parse.js';
export {
  TCP_MAX_WINDOW_SCALE,
  TcpOptionKind,
  tcpFindOption,
  tcpFindOptionIn,
  tcpMss,
  tcpSackBlocks,
  tcpSackPermitted,
  tcpTimestampEcho,
  tcpTimestampValue,
  tcpWindowScale,
} from './tcp-options.js';
export {
  computeL4Checksum,
  csumApplyDiff,
  csumFold,
  csumUpdate16,
  csumUpdate32,
  ipv4HeaderChecksum,
  isPartialChecksum,
  l4ChecksumFieldOffset,
  l4PseudoSum,
  onesSum,
  replacementDiff,
  rewriteAddress,
  rewriteIcmpId,
  rewritePort,
  setIpv4HeaderChecksum,
  setL4Checksum,
  sumApplyDiff,
  verifyIpv4HeaderChecksum,
  verifyL4Checksum,
} from './checksum.js';
export {
  type IpFamily,
  type ParsedAddress,
  type Prefix,
  addrEqual,
  addressInPrefix,
  formatAddress,
  formatIPv4,
  formatIPv6,
  formatPrefix,
  parseAddress,
  parseIPv4,
  parseIPv6,
  parsePrefix,
  prefixMatch,
} from './address.js';
export {
  type IcmpErrorOptions,
  type IcmpEchoOptions,
  type IpOptions,
  type Ipv6ExtHeader,
  type Payload,
  type RawIpOptions,
  type TcpOptions,
  type UdpOptions,
  type VnetHeader,
  buildIcmpEcho,
  buildIcmpError,
  buildIp,
  buildTcp,
  buildUdp,
  fragmentPacket,
  parseBuilt,
  parseQuoted,
  tcpFlagBits,
} from './build.js';
export { type CaptureRecord, CaptureFormatError } from './capture-record.js';
export { LinkType, SUPPORTED_LINK_TYPES, l3OffsetFor } from './link-type.js';
export {
  type PcapWriteOptions,
  type PcapWriteRecord,
  pcapFileHeader,
  pcapRecord,
  readCapture,
  readCaptureAll,
  readPcap,
  writePcap,
} from './pcap.js';
export { readPcapng } from './pcapng.js';
export { describePacket, ipProtoName, tcpFlagLetters } from './describe.js';
