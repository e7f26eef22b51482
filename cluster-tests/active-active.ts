/**
 * The lab's active/active layout (docs/active-active.md): two VRRP groups, A with the
 * usual gateway VIPs (.1, ::1) preferring fwa, B with its own (.254, ::fe) preferring fwb.
 * The client reaches the server's usual address through group A and a second server
 * address through group B; the server answers each from the group its address belongs
 * to (policy routing by source), so both nodes forward at once, each for its own group.
 * A third server address is reached through A and answered through B: an asymmetric path.
 */
import { sh } from './exec.js';
import type { Lab } from './lab.js';
import { NS, SERVER, VIPS, type FirewallAddrs } from './topology.js';

/** Group B's VIPs; group A's are the lab's usual VIPS. */
export const VIPS_B = [
  { ifname: 'lan', addr: '192.0.2.254', prefix: 24 },
  { ifname: 'wan', addr: '198.51.100.254', prefix: 24 },
  { ifname: 'lan', addr: '2001:db8:1::fe', prefix: 64 },
  { ifname: 'wan', addr: '2001:db8:2::fe', prefix: 64 },
] as const;

/** Server addresses: through group A both ways, through group B both ways, and A out / B back. */
export const SERVER_A = { v4: SERVER.v4, v6: SERVER.v6 };
export const SERVER_B = { v4: '198.51.100.101', v6: '2001:db8:2::101' };
export const SERVER_ASYM = { v4: '198.51.100.102', v6: '2001:db8:2::102' };

export const GROUP_A = { name: 'a', vrid: 51 };
export const GROUP_B = { name: 'b', vrid: 52 };

/** fwa prefers group A and fwb group B; any other node backs both up. */
export function groupPriorities(fw: string): { a: number; b: number } {
  return fw === 'fwa' ? { a: 200, b: 100 } : fw === 'fwb' ? { a: 100, b: 200 } : { a: 50, b: 50 };
}

/** The nodes' `vrrp` section with the two groups (`priorities`: other than groupPriorities'). */
export function activeActiveVrrp(fw: FirewallAddrs, advertIntervalMs = 50, priorities?: { a: number; b: number }): string {
  const p = priorities ?? groupPriorities(fw.name);
  const vips = (list: readonly { ifname: string; addr: string; prefix: number }[]): string[] => list.map((v) => `        - { interface: ${v.ifname}, address: "${v.addr}/${v.prefix}" }`);
  return [
    'vrrp:',
    '  interface: lan',
    `  advertIntervalMs: ${advertIntervalMs}`,
    '  syncInterface: sync',
    '  announceRepeat: 3',
    '  announceSpacingMs: 100',
    '  groups:',
    `    - name: ${GROUP_A.name}`,
    `      vrid: ${GROUP_A.vrid}`,
    `      priority: ${p.a}`,
    '      vips:',
    ...vips(VIPS),
    `    - name: ${GROUP_B.name}`,
    `      vrid: ${GROUP_B.vrid}`,
    `      priority: ${p.b}`,
    '      vips:',
    ...vips(VIPS_B),
  ].join('\n');
}

/** The client's and the server's routes for group B and the asymmetric address (inside the lab's namespaces). */
export async function routeThroughGroups(): Promise<void> {
  const [lanB4, wanB4, lanB6, wanB6] = [VIPS_B[0].addr, VIPS_B[1].addr, VIPS_B[2].addr, VIPS_B[3].addr];
  await sh(['ip', '-n', NS.client, 'route', 'add', `${SERVER_B.v4}/32`, 'via', lanB4]);
  await sh(['ip', '-n', NS.client, '-6', 'route', 'add', `${SERVER_B.v6}/128`, 'via', lanB6]);
  for (const [a4, a6, table] of [[SERVER_B.v4, SERVER_B.v6, '201'], [SERVER_ASYM.v4, SERVER_ASYM.v6, '202']] as const) {
    await sh(['ip', '-n', NS.server, 'addr', 'add', `${a4}/24`, 'dev', 'eth0']);
    await sh(['ip', '-n', NS.server, 'addr', 'add', `${a6}/64`, 'dev', 'eth0', 'nodad']);
    // Answers from this address go back through group B.
    await sh(['ip', '-n', NS.server, 'rule', 'add', 'from', a4, 'lookup', table]);
    await sh(['ip', '-n', NS.server, 'route', 'add', 'default', 'via', wanB4, 'table', table]);
    await sh(['ip', '-n', NS.server, '-6', 'rule', 'add', 'from', a6, 'lookup', table]);
    await sh(['ip', '-n', NS.server, '-6', 'route', 'add', 'default', 'via', wanB6, 'table', table]);
  }
}

/** Each VRRP group's state on `fw`, as "a:master b:backup" (empty when the node does not answer). */
export async function groupStates(lab: Lab, fw: string): Promise<string> {
  const s = (await lab.status(fw).catch(() => undefined)) as { vrrp?: { groups?: { name: string; state: string }[] } } | undefined;
  return (s?.vrrp?.groups ?? []).map((g) => `${g.name}:${g.state}`).join(' ');
}

/** Whether `fw` holds group A's LAN VIPs (the lab's usual .1 and ::1) and group B's, v4 and v6. */
export async function holdsGroupVips(fw: string): Promise<{ a: boolean; b: boolean }> {
  const out = await sh(['ip', '-n', NS.fw(fw), 'addr', 'show', 'dev', 'lan']).catch(() => '');
  return { a: out.includes('192.0.2.1/24') && out.includes('2001:db8:1::1/64'), b: out.includes(`${VIPS_B[0].addr}/24`) && out.includes(`${VIPS_B[2].addr}/64`) };
}
