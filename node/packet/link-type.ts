/**
 * Capture link types (https://www.tcpdump.org/linktypes.html) and where the IP header
 * starts in a frame of each.
 */

export const enum LinkType {
  Ethernet = 1,
  Raw = 101,
  LinuxSll = 113,
  Ipv4 = 228,
  Ipv6 = 229,
  LinuxSll2 = 276,
}

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;

export const SUPPORTED_LINK_TYPES: readonly number[] = [
  LinkType.Ethernet,
  LinkType.Raw,
  LinkType.LinuxSll,
  LinkType.Ipv4,
  LinkType.Ipv6,
  LinkType.LinuxSll2,
];

function isIpEthertype(t: number): boolean {
  return t === ETHERTYPE_IPV4 || t === ETHERTYPE_IPV6;
}

/**
 * Offset of the IP header inside `frame` for `linkType`, or -1 when the frame carries
 * something else (ARP, LLDP...) or is too short for its link header.
 */
export function l3OffsetFor(linkType: number, frame: Uint8Array): number {
  switch (linkType) {
    case LinkType.Raw:
    case LinkType.Ipv4:
    case LinkType.Ipv6:
      return 0;
    case LinkType.Ethernet: {
      // dst(6) src(6) type(2), or with one 802.1Q / 802.1ad tag: type(2)=0x8100 TCI(2) type(2).
      if (frame.length < 14) return -1;
      let t = (frame[12] << 8) | frame[13];
      if (t === ETHERTYPE_VLAN || t === ETHERTYPE_QINQ) {
        if (frame.length < 18) return -1;
        t = (frame[16] << 8) | frame[17];
        return isIpEthertype(t) ? 18 : -1;
      }
      return isIpEthertype(t) ? 14 : -1;
    }
    case LinkType.LinuxSll: {
      // packet type(2) ARPHRD(2) addr len(2) addr(8) protocol(2).
      if (frame.length < 16) return -1;
      return isIpEthertype((frame[14] << 8) | frame[15]) ? 16 : -1;
    }
    case LinkType.LinuxSll2: {
      // protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1) addr len(1) addr(8).
      if (frame.length < 20) return -1;
      return isIpEthertype((frame[0] << 8) | frame[1]) ? 20 : -1;
    }
    default:
      return -1;
  }
}
