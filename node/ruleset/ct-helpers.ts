/**
 * The conntrack helpers hafw has (nft's `ct helper` objects name one by its `type`). Only
 * FTP: its control channel is parsed for the data connection's address (conntrack's FTP
 * helper). Other kernel helpers (sip, h323, tftp, irc, pptp...) are refused by name, so a
 * ruleset never believes a helper runs when none does.
 */

import { CtHelperId } from '../ct-state/index.js';

/** A helper's number, as the conntrack entry and ClassifyContext.ctHelper keep it (0: none). */
export { CtHelperId };

/** Helper type names (nft's `type "ftp"`, the kernel helper's name) by id. */
export const CT_HELPER_NAMES: readonly string[] = ['', 'ftp'];

/** The layer-4 protocol each helper runs on (nft checks the object's `protocol` against the helper's). */
export const CT_HELPER_PROTO: readonly string[] = ['', 'tcp'];

/** The id of a helper type name, or the reason it is refused. */
export function ctHelperId(name: string): CtHelperId | string {
  const id = CT_HELPER_NAMES.indexOf(name);
  if (id > 0) return id as CtHelperId;
  return `conntrack helper ${JSON.stringify(name)} is not supported: hafw has the "ftp" helper only (the others parse protocols a layer-3 firewall here does not: use explicit rules for the data ports instead)`;
}
