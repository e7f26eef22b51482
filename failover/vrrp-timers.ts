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
