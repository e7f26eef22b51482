/**
 * Replication lag across hosts whose clocks differ, measured on the sender's clock only.
 *
 * Every record carries `stamp` (sender clock: when the change happened) and every message
 * header carries `time` (sender clock: when it was sent). The receiver echoes in a later ACK
 * that message's `time`, the oldest record `stamp` in it, and `hold`: how long it kept the
 * echo since the message *arrived* (a duration on its own clock, so no offset enters). The
 * echo is sent only once the message's records are in the table; when applying happens on
 * another thread (the sync worker hands records to the datapath), the time that took (also
 * a receiver-clock duration, `apply`) is folded into the echo by moving `stamp` earlier by
 * it. When the ACK arrives at sender time `now`:
 *
 *   rtt = (now - time) - hold                 both terms durations on one clock each
 *   lag = (time - stamp') + rtt / 2           stamp' = stamp - apply
 *       = (time - stamp) + rtt / 2 + apply    queueing/coalescing on the sender, exact,
 *                                             plus the one-way trip, estimated as half the
 *                                             RTT, plus the way into the receiver's table
 *
 * The only assumption is a symmetric path (as in NTP, RFC 5905 §8); the error is at most
 * half the path asymmetry, which on a sync segment is microseconds. Nothing compares two
 * hosts' clocks, so skew and steps of the wall clock do not matter (use a monotonic clock).
 * The oldest stamp is echoed, so a sample is the worst record of the sampled message.
 */

/** The lag sample (ms) for one ACK echo, or NaN when the echo is empty or inconsistent. */
export function lagFromEcho(now: number, echoTime: number, echoHold: number, echoStamp: number): number {
  if (!Number.isFinite(echoTime) || !Number.isFinite(echoHold) || !Number.isFinite(echoStamp)) return NaN;
  const rtt = now - echoTime - echoHold;
  if (rtt < 0 || echoHold < 0 || echoStamp > echoTime) return NaN;
  return echoTime - echoStamp + rtt / 2;
}

/** Round-trip time (ms) from an echo, NaN when inconsistent. */
export function rttFromEcho(now: number, echoTime: number, echoHold: number): number {
  const rtt = now - echoTime - echoHold;
  return Number.isFinite(rtt) && rtt >= 0 ? rtt : NaN;
}

/**
 * The clock for record stamps and the runner: milliseconds, monotonic, and the same in every
 * thread of the process (performance.now() alone has a per-thread origin, so a stamp taken
 * on the datapath thread would not be comparable with the sync worker's time).
 */
export function syncClock(): number {
  return performance.timeOrigin + performance.now();
}
