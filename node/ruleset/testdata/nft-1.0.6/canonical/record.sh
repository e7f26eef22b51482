#!/bin/sh
# Records NAME.nft -> NAME.list (`nft -a list ruleset` after `nft -f NAME.nft`) with the
# host's nft, each in a throw-away network namespace. Run as root from this directory:
#   ./record.sh *.nft
set -u
ns=hafw-nftc-rec-$$
for f in "$@"; do
  name=${f%.nft}
  ip netns add "$ns" || exit 1
  if ip netns exec "$ns" nft -f "$f"; then
    ip netns exec "$ns" nft -a list ruleset > "$name.list"
  else
    echo "$f: nft refused it" >&2
  fi
  ip netns del "$ns"
done
