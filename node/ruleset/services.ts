/**
 * Service names (`tcp dport ssh`) as nft resolves them: nft asks getaddrinfo(3) with no
 * protocol hint, which reads /etc/services and tries TCP, then UDP, then DCCP, UDP-Lite
 * and SCTP entries, so a UDP-only name (`ntp`, `bootps`) is a port for `tcp dport` too,
 * and a TCP entry wins where the protocols disagree. The name becomes its number (nft
 * lists and writes JSON with numbers).
 *
 * The file is read when a name is first needed and again when it changed (its mtime,
 * looked at no more than once a second), so a ruleset load sees the node's current file.
 * Without the file, a built-in list of common IANA names stands in (and errors say so).
 */
import { readFileSync, statSync } from 'node:fs';

const SERVICES_FILE = '/etc/services';

/** Protocols in getaddrinfo's order (glibc's gaih_inet_typeproto); others (ddp) are not looked at. */
const PROTO_ORDER = ['tcp', 'udp', 'dccp', 'udplite', 'sctp'];

/** When /etc/services is missing: well-known IANA assignments that rulesets commonly name. */
const BUILTIN: Record<string, number> = {
  'ftp-data': 20, ftp: 21, ssh: 22, telnet: 23, smtp: 25, domain: 53, bootps: 67, bootpc: 68, tftp: 69, http: 80,
  kerberos: 88, pop3: 110, sunrpc: 111, ntp: 123, 'netbios-ns': 137, 'netbios-dgm': 138, 'netbios-ssn': 139,
  imap: 143, imap2: 143, snmp: 161, 'snmp-trap': 162, bgp: 179, ldap: 389, https: 443, 'microsoft-ds': 445, isakmp: 500,
  syslog: 514, submission: 587, ldaps: 636, imaps: 993, pop3s: 995, openvpn: 1194, 'ms-sql-s': 1433,
  radius: 1812, 'radius-acct': 1813, nfs: 2049, mysql: 3306, 'ipsec-nat-t': 4500, postgresql: 5432, 'http-alt': 8080,
};

interface Table {
  ports: Map<string, number>;
  /** Where the names came from, for error messages. */
  source: string;
}

let file = SERVICES_FILE;
let table: Table | undefined;
let mtimeMs = -1;
let checkedAt = -Infinity;

/** Name -> port from services(5) text, in getaddrinfo's protocol order. */
export function parseServices(text: string): Map<string, number> {
  const best = new Map<string, { port: number; rank: number }>();
  for (const raw of text.split('\n')) {
    const hash = raw.indexOf('#');
    const fields = (hash >= 0 ? raw.slice(0, hash) : raw).trim().split(/\s+/);
    if (fields.length < 2) continue;
    const slash = fields[1].indexOf('/');
    if (slash <= 0) continue;
    const port = Number(fields[1].slice(0, slash));
    const rank = PROTO_ORDER.indexOf(fields[1].slice(slash + 1));
    if (!Number.isInteger(port) || port < 0 || port > 65535 || rank < 0) continue;
    for (let i = 0; i < fields.length; i++) {
      if (i === 1) continue;
      const prev = best.get(fields[i]);
      if (!prev || rank < prev.rank) best.set(fields[i], { port, rank });
    }
  }
  const out = new Map<string, number>();
  for (const [name, { port }] of best) out.set(name, port);
  return out;
}

function current(): Table {
  const now = Date.now();
  if (table && now - checkedAt < 1000) return table;
  checkedAt = now;
  let m = -2;
  try {
    m = statSync(file).mtimeMs;
  } catch {
    // missing or unreadable: the built-in names
  }
  if (table && m === mtimeMs) return table;
  mtimeMs = m;
  let text: string | undefined;
  if (m !== -2) {
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      text = undefined;
    }
  }
  table = text === undefined
    ? { ports: new Map(Object.entries(BUILTIN)), source: `the built-in names (${file} is missing)` }
    : { ports: parseServices(text), source: file };
  return table;
}

/** The names known now (the live table: do not keep it across loads). */
export function serviceNames(): ReadonlyMap<string, number> {
  return current().ports;
}

/** A service name's port, or undefined. */
export function servicePort(name: string): number | undefined {
  return current().ports.get(name);
}

/** The error for a word that is neither a port nor a known name, with the closest name. */
export function unknownService(word: string): string {
  const t = current();
  const near = closest(word, t.ports.keys());
  return `'${word}' is not a port number or a service name in ${t.source}${near ? `; did you mean '${near}'?` : ''}`;
}

/** Points the lookups at another file (tests), or back at /etc/services. */
export function useServicesFile(path: string = SERVICES_FILE): void {
  file = path;
  table = undefined;
  checkedAt = -Infinity;
}

/** The name at the smallest edit distance (at most 2, and less than the word's length). */
function closest(word: string, names: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Math.min(3, word.length);
  for (const n of names) {
    if (Math.abs(n.length - word.length) >= bestD) continue;
    const d = editDistance(word, n, bestD);
    if (d < bestD) {
      bestD = d;
      best = n;
    }
  }
  return best;
}

/** Levenshtein distance with adjacent transpositions, or `cap` once it reaches it. */
function editDistance(a: string, b: string, cap: number): number {
  const n = b.length;
  let prev2 = new Array<number>(n + 1).fill(0);
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = new Array<number>(n + 1);
    cur[0] = i;
    let rowMin = i;
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, prev2[j - 2] + 1);
      cur[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (rowMin >= cap) return cap;
    prev2 = prev;
    prev = cur;
  }
  return Math.min(prev[n], cap);
}
