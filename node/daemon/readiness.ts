/**
 * VRRP readiness: whether this node may take (or preempt for) the VIPs. It is safety policy,
 * kept apart from the wiring so every combination is tested: a node that became master with
 * an empty connection table, or with a ruleset older than the cluster's, would drop or
 * wrongly pass the traffic it takes over.
 *
 * Ready means all of:
 * - state sync (when configured) has the whole table (its resync finished, or it heard no
 *   sync peer within its startup grace and counts as alone);
 * - in that "alone" case, the alone-guard agrees (no VRRP router heard, for long enough:
 *   sync-alone-guard.ts), so a broken sync link does not pass for an absent peer;
 * - the ruleset (when ruleset.dist is configured) is the cluster's current version.
 */
import type { SyncReadinessSource } from '../../failover/index.js';

export interface ReadinessInputs {
  /** State sync's own verdict; absent when sync is not configured (nothing to wait for). */
  syncInSync?: boolean;
  /** The alone-guard's verdict (SyncAloneGuard.allowsReady); absent without sync. */
  aloneGuardAllows?: boolean;
  /** ruleset-dist's verdict (RulesetCluster.ready); absent when ruleset.dist is off. */
  rulesetCurrent?: boolean;
}

type NotReadyReason = 'sync-not-in-sync' | 'alone-guard' | 'ruleset-not-current';

type Readiness = { ready: true } | { ready: false; reason: NotReadyReason };

/** Pure: the verdict and, when not ready, the first input that holds it back. */
export function vrrpReadiness(i: ReadinessInputs): Readiness {
  if (i.syncInSync === false) return { ready: false, reason: 'sync-not-in-sync' };
  if (i.aloneGuardAllows === false) return { ready: false, reason: 'alone-guard' };
  if (i.rulesetCurrent === false) return { ready: false, reason: 'ruleset-not-current' };
  return { ready: true };
}

/**
 * The readiness VrrpInstance subscribes to: re-evaluates the inputs whenever one of them may
 * have changed and tells a subscriber only when the verdict flips.
 */
export class VrrpReadiness implements SyncReadinessSource {
  private readonly checks = new Set<() => void>();

  constructor(
    /** Reads the current inputs. */
    private readonly inputs: () => ReadinessInputs,
    /** Subscribes `changed` to the inputs that announce their changes; returns the unsubscribe. */
    private readonly watch: (changed: () => void) => () => void,
  ) {}

  get inSync(): boolean {
    return this.verdict.ready;
  }

  /** The verdict with its reason, for the log. */
  get verdict(): Readiness {
    return vrrpReadiness(this.inputs());
  }

  /** Re-evaluates for every subscriber: for inputs that have no change events of their own. */
  recheck(): void {
    this.checks.forEach((c) => c());
  }

  onChange(cb: (inSync: boolean) => void): () => void {
    let last = this.inSync;
    const check = (): void => {
      const v = this.inSync;
      if (v !== last) cb((last = v));
    };
    this.checks.add(check);
    const off = this.watch(check);
    return () => {
      this.checks.delete(check);
      off();
    };
  }
}
