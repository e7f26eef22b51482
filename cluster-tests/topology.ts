/**
 * The lab topology of DESIGN §5, as data: who has which address on which segment. Tests,
 * the demo and benchmarks all read these names instead of spelling addresses again.
 * Only documentation ranges (RFC 5737 / RFC 3849) are used, inside namespaces we create.
 */
export const NS = {
  sw: 'hafw-sw',
  client: 'hafw-client',
  server: 'hafw-server',
  fw: (name: string) => `hafw-${name}`,
} as const;


export interface FirewallAddrs {
  name: string;
  lan4: string;
  wan4: string;
  sync4: string;
  lan6: string;
  wan6: string;
  sync6: string;
}

export const FIREWALLS: FirewallAddrs[] = [
  { name: 'fwa', lan4: '192.0.2.2', wan4: '198.51.100.2', sync4: '203.0.113.1', lan6: '2001:db8:1::2', wan6: '2001:db8:2::2', sync6: '2001:db8:3::1' },
  { name: 'fwb', lan4: '192.0.2.3', wan4: '198.51.100.3', sync4: '203.0.113.2', lan6: '2001:db8:1::3', wan6: '2001:db8:2::3', sync6: '2001:db8:3::2' },
  // The third node of a three-node lab (`hafw lab up --nodes 3`); a pair uses the first two.
  { name: 'fwc', lan4: '192.0.2.4', wan4: '198.51.100.4', sync4: '203.0.113.3', lan6: '2001:db8:1::4', wan6: '2001:db8:2::4', sync6: '2001:db8:3::3' },
];

/** Most firewalls a lab builds. */
export const MAX_LAB_NODES = FIREWALLS.length;

export const CLIENT = { v4: '192.0.2.100', v6: '2001:db8:1::100', gw4: '192.0.2.1', gw6: '2001:db8:1::1' };
export const SERVER = { v4: '198.51.100.100', v6: '2001:db8:2::100', gw4: '198.51.100.1', gw6: '2001:db8:2::1' };

/** The virtual IPs: they live on the active firewall only. */
export const VIPS = [
  { ifname: 'lan', addr: '192.0.2.1', prefix: 24 },
  { ifname: 'wan', addr: '198.51.100.1', prefix: 24 },
  { ifname: 'lan', addr: '2001:db8:1::1', prefix: 64 },
  { ifname: 'wan', addr: '2001:db8:2::1', prefix: 64 },
] as const;

export const TUN_NAME = 'hafw0';
