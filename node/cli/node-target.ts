/**
 * Which node a command talks to, the same way in every command that talks to one: the
 * control socket of this network namespace (default, or --socket), or a node's
 * management listener (--url with --token-file, --ca-file for a certificate of a
 * private CA, and --cert-file with --key-file for a listener that wants a client
 * certificate, api.tls.clientCaFile). Commands spread TARGET_OPTIONS into their options and end their help with
 * TARGET_HELP, so --help, the bash completion and the man pages list the options too.
 *
 * The environment gives the same for a shell that works on one remote node (HAFW_URL,
 * HAFW_TOKEN_FILE, HAFW_CA_FILE, HAFW_CERT_FILE, HAFW_KEY_FILE); an option on the command
 * line wins.
 */
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import type { RemoteTarget, Target } from '../api/client.js';
import { UsageError } from './args.js';
import { fileProblem } from './file-errors.js';

export const TARGET_OPTIONS = {
  socket: { type: 'string' },
  url: { type: 'string' },
  'token-file': { type: 'string' },
  'ca-file': { type: 'string' },
  'cert-file': { type: 'string' },
  'key-file': { type: 'string' },
} as const;

export const TARGET_HELP = `  --socket PATH       control socket (default: the one of this network namespace)
  --url URL           a node's management listener instead (api.listen), e.g.
                      https://fw1.example.net:8470 (env HAFW_URL); plain http:// only to loopback
  --token-file FILE   the node's API token (api.tokenFile) for --url (env HAFW_TOKEN_FILE)
  --ca-file FILE      CA certificate (PEM) the listener's certificate is checked against,
                      instead of the system's CAs (env HAFW_CA_FILE)
  --cert-file FILE    client certificate (PEM) for a listener that asks for one
                      (api.tls.clientCaFile), with --key-file (env HAFW_CERT_FILE)
  --key-file FILE     private key (PEM) of --cert-file (env HAFW_KEY_FILE)`;

export interface TargetValues {
  socket?: string;
  url?: string;
  'token-file'?: string;
  'ca-file'?: string;
  'cert-file'?: string;
  'key-file'?: string;
}

async function readOption(option: string, file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new Error(`${option} ${file}: ${fileProblem(err)}`);
  }
}

/**
 * The target the options (or the environment) name. Usage errors for combinations that
 * cannot mean anything; file errors name the option and the file.
 */
export async function targetFrom(values: TargetValues, usage: string, env: NodeJS.ProcessEnv = process.env): Promise<Target> {
  const urlText = values.url ?? (values.socket === undefined ? env.HAFW_URL || undefined : undefined);
  if (urlText === undefined) {
    if (values['token-file'] !== undefined || values['ca-file'] !== undefined || values['cert-file'] !== undefined || values['key-file'] !== undefined) throw new UsageError(`--token-file, --ca-file, --cert-file and --key-file go with --url (the control socket needs none of them)\n\n${usage}`);
    return { socket: values.socket };
  }
  if (values.socket !== undefined) throw new UsageError(`--socket and --url name two different nodes: give one\n\n${usage}`);
  const from = values.url !== undefined ? '--url' : 'HAFW_URL';
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    throw new UsageError(`${from} '${urlText}': not a URL (expected https://HOST:PORT)\n\n${usage}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError(`${from} '${urlText}': expected an https:// (or http://) URL, got ${url.protocol}\n\n${usage}`);
  if (url.username || url.password || url.search || url.hash) throw new UsageError(`${from} '${urlText}': give only scheme, host, port (the token goes in --token-file)\n\n${usage}`);
  const tokenFile = values['token-file'] ?? (env.HAFW_TOKEN_FILE || undefined);
  if (tokenFile === undefined) throw new UsageError(`${from} needs --token-file FILE (or HAFW_TOKEN_FILE): the management listener wants the node's API token\n\n${usage}`);
  const token = (await readOption('--token-file', tokenFile)).toString('utf8').trim();
  if (token === '') throw new Error(`--token-file ${tokenFile}: the file is empty`);
  const remote: RemoteTarget = { url, token, tokenFile };
  const caFile = values['ca-file'] ?? (env.HAFW_CA_FILE || undefined);
  if (caFile !== undefined) {
    if (url.protocol !== 'https:') throw new UsageError(`--ca-file goes with an https:// URL\n\n${usage}`);
    const ca = await readOption('--ca-file', caFile);
    if (!ca.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) throw new Error(`--ca-file ${caFile}: not a PEM certificate (no BEGIN CERTIFICATE line)`);
    remote.ca = ca;
    remote.caFile = caFile;
  }
  const certFile = values['cert-file'] ?? (env.HAFW_CERT_FILE || undefined);
  const keyFile = values['key-file'] ?? (env.HAFW_KEY_FILE || undefined);
  if (certFile !== undefined || keyFile !== undefined) {
    if (url.protocol !== 'https:') throw new UsageError(`--cert-file and --key-file go with an https:// URL\n\n${usage}`);
    if (certFile === undefined || keyFile === undefined) throw new UsageError(`--cert-file and --key-file go together (or HAFW_CERT_FILE and HAFW_KEY_FILE): a client certificate and its key\n\n${usage}`);
    const cert = await readOption('--cert-file', certFile);
    const key = await readOption('--key-file', keyFile);
    if (!cert.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) throw new Error(`--cert-file ${certFile}: not a PEM certificate (no BEGIN CERTIFICATE line)`);
    try {
      createSecureContext({ cert, key });
    } catch (err) {
      // Said here, not as a handshake the node refuses for a reason the CLI cannot see.
      throw new Error(`--key-file ${keyFile}: not the private key of --cert-file ${certFile}, or not a usable PEM key (${(err as Error).message})`);
    }
    remote.clientCert = { cert, key, certFile };
  }
  return { remote };
}
