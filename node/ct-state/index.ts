/**
 * The `ct state` bits: what the connection tracker says about a packet and what a rule's
 * `ct state` compares, defined once. The values are the bits nftables uses
 * (NF_CT_STATE_INVALID_BIT, NF_CT_STATE_BIT(ctinfo), NF_CT_STATE_UNTRACKED_BIT in the
 * kernel's uapi nf_conntrack_common.h), so `ct state { established, related }` is one mask
 * test on the tracker's answer.
 *
 * A leaf with no imports, like that header: node/conntrack produces these values and
 * node/ruleset names them, and neither folder depends on the other.
 */
export const enum CtState {
  Invalid = 1,
  Established = 2,
  Related = 4,
  New = 8,
  Untracked = 64,
}

/** The states of a packet that belongs to a connection (new, established, related). */
export const CT_STATE_IN_CONNECTION = CtState.New | CtState.Established | CtState.Related;

/**
 * A connection's conntrack helper, as the tracker keeps it and `ct helper` reads it: the
 * tracker runs it, the rule language names it (node/ruleset/ct-helpers.ts has the names).
 */
export const enum CtHelperId {
  None = 0,
  Ftp = 1,
}
