/**
 * The one clock of the datapath and the rule engines, in ms. Monotonic within a thread
 * (performance.now) and aligned with wall-clock time through timeOrigin, so that a set
 * element's absolute expiry computed in the control thread means the same instant in
 * the datapath thread.
 */
export const datapathClock = (): number => performance.timeOrigin + performance.now();
