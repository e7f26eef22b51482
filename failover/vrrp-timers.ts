/**
 * Every VRRP timer in one place (RFC 5798 §6.1, same in RFC 9568 §6.1), in the style of
 * OpenBSD carp's single timer computation: the state machine never does timer
 * arithmetic of its own.
 *
 *   Skew_Time            = ((256 - Priority) * Master_Adver_Interval) / 256
 *   Master_Down_Interval = (3 * Master_Adver_Interval) + Skew_Time
 *
 * Intervals travel in centiseconds on the wire; the state machine runs on milliseconds.
 */

export interface VrrpTimers {
  /** Our own advertisement period (Advertisement_Interval), ms. */
  advertIntervalMs: number;
  /** Skew_Time, ms: how much later a lower priority backup declares the master dead. */
  skewMs: number;
  /** Master_Down_Interval, ms. */
  masterDownMs: number;
}

export function vrrpTimers(localPriority: number, advertIntervalCs: number, masterAdverIntervalCs: number): VrrpTimers {
  const skewCs = ((256 - localPriority) * masterAdverIntervalCs) / 256;
  return {
    advertIntervalMs: advertIntervalCs * 10,
    skewMs: skewCs * 10,
    masterDownMs: (3 * masterAdverIntervalCs + skewCs) * 10,
  };
}

/**
 * Advertisements that fail to leave the node (sendto error: an output filter, ENOBUFS, the
 * interface gone), as OpenBSD carp counts them (its CARP_SENDAD_MAX_ERRORS and
 * CARP_SENDAD_MIN_SUCCESS are both 3 per virtual host).
 *
 * Three consecutive failures are three Advertisement_Intervals without a word from us,
 * close to Master_Down_Interval: a backup takes over then anyway. The demotion makes this
 * router let it (it steps down on the backup's first advertisement instead of answering it
 * as a split brain it would win, re-announcing VIPs it cannot defend). Three consecutive
 * successful sends (only a master sends) lift the demotion.
 */
export const SEND_ERRORS_TO_DEMOTE = 3;
export const SENDS_TO_RECOVER = 3;
/** Priority decrement while demoted for send errors: down to 1, below any healthy router. */
export const SEND_ERROR_DEMOTION = 254;
