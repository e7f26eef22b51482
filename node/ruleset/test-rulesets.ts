/** Rulesets shared by the tests (not used outside tests). */

export const FULL_RULESET = `
define lan = "lan"
define web = { 80, 443 }
table inet filter {
  set blocked {
    type ipv4_addr
    flags interval, timeout
    elements = { 10.0.0.0/8, 192.168.1.1 timeout 30s comment "x" }
  }
  set blocked6 {
    type ipv6_addr
    flags interval
    elements = { 2001:db8:dead::/48 }
  }
  set svc {
    type ipv4_addr . inet_service
    elements = { 192.0.2.10 . 22, 192.0.2.11 . 443 }
  }
  map marks {
    type inet_service : mark
    elements = { 80 : 0x50 }
  }
  map ports {
    type inet_service : verdict
    elements = { 22 : jump ssh, 23 : drop }
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    ct state invalid drop
    iifname $lan tcp dport $web counter accept
    ip saddr @blocked drop
    ip6 saddr @blocked6 drop
    ip saddr . tcp dport @svc accept
    ip6 saddr 2001:db8::/32 tcp dport 1000-2000 accept
    tcp flags syn / syn,ack limit rate 10/second burst 5 packets log prefix "syn: " level info
    tcp dport vmap @ports
    meta l4proto { tcp, udp } th dport 53 accept
    ip saddr . tcp dport { 10.0.0.1 . 22, 10.0.0.2 . 80 } accept
    meta mark set 0x10 ct mark set 5
    meta mark set ip saddr map { 10.0.0.1 : 0x1, 10.0.0.2 : 0x2 }
    ct mark set tcp dport map @marks
    icmp type echo-request reject with icmp port-unreachable
    icmpv6 type { echo-request, echo-reply } accept
    meta nfproto ipv6 ip6 daddr != 2001:db8::1 udp sport 123 notrack
    ct status assured ct mark 0x5 meta mark != 0x0 oifname "wan" continue
    ip protocol udp ip daddr 198.51.100.1-198.51.100.9 udp dport { 1-100, 200 } accept comment "dns-ish"
    ip6 nexthdr tcp tcp sport >= 1024 tcp dport < 1024 accept
    reject with tcp reset
  }
  chain ssh {
    ip saddr 192.0.2.0/24 accept
    udp dport vmap { 500 : accept, 4500 : goto ipsec_in }
    return
  }
  chain ipsec_in {
    drop
  }
}
table ip nat {
  chain pre {
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr 192.0.2.1 tcp dport 8080 counter
  }
}
table ip6 raw6 {
  chain pre {
    type filter hook prerouting priority -300; policy accept;
    icmpv6 type nd-neighbor-solicit notrack
  }
}
`;

/** The bomb: 30 levels of `define aN = { $aN-1, $aN-1 }`, under 1 KB, 2^31 tokens if expanded. */
export function defineBomb(levels = 30): string {
  const lines = ['define a0 = { 1, 1 }'];
  for (let i = 1; i <= levels; i++) lines.push(`define a${i} = { $a${i - 1}, $a${i - 1} }`);
  lines.push(`table inet t { set s { type inet_service; elements = $a${levels} } }`);
  return lines.join('\n') + '\n';
}
