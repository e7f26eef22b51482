/**
 * The words nft 1.0.6's scanner always reads as keywords, so that they cannot name a table,
 * chain, set, map, object or flowtable, nor be a jump/goto target, in nft's text language:
 * `chain ipsec { ... }` is "syntax error, unexpected ipsec, expecting string". Measured
 * against Debian's nft 1.0.6 (each word tried as a table, chain, set name and a jump
 * target in a throw-away namespace: all four refuse exactly these). Words nft reads as
 * keywords only after a keyword that opens their scope (`saddr`, `to`, `prefix`, `filter`,
 * `input`...) name things freely. JSON input is not read by that scanner: nft -j takes any
 * name, and so does hafw.
 */
export const NFT_KEYWORDS: ReadonlySet<string> = new Set(
  (
    'eq ne le lt ge gt lshift rshift xor and or not vmap include define redefine undefine describe hook device devices ' +
    'table chain rule set element map flowtable handle ruleset socket tproxy accept drop continue jump goto return inet ' +
    'netdev add replace update create insert delete get list reset flush rename import export monitor position index ' +
    'comment constant interval dynamic auto-merge timeout gc-interval elements expires policy size flow offload meter ' +
    'counter log queue limit quota hour day reject snat dnat masquerade redirect random th bridge ether type typeof vlan ' +
    'arp ip ecn time icmp icmpv6 igmp ip6 priority ah esp comp flags udp udplite tcp dccp sctp rt rt0 rt2 srh hbh frag ' +
    'dst mh meta mark iif iifname iiftype oif oifname oiftype skuid skgid nftrace rtclassid ibriport ibrname obriport ' +
    'obrname pkttype cpu iifgroup oifgroup cgroup ct numgen jhash symhash dup fwd fib osf synproxy notrack all exists ' +
    'missing exthdr ipsec secmark xt'
  ).split(' '),
);
