/**
 * The datapath thread's scheduling priority (datapath.nice).
 *
 * Why: the kernel forwards in softirq context, ahead of every process on the host; hafw's
 * datapath is an ordinary thread and, at the default nice 0, gets an equal share with
 * whatever else runs. Measured on the lab pair (docs/performance.md, "takeover"): in the
 * 0.4 s after a takeover the new master's datapath thread was runnable but waiting for a
 * CPU for 0.2-0.47 s of it, so the probes queued in the TUN device for tens of
 * milliseconds, while the control thread (real-time) waited for none. A lower nice value
 * gives it the larger share it needs under load; it still yields to the real-time VRRP
 * thread and, being a fair-share priority, never starves the rest of the host.
 *
 * Linux keeps the nice value per thread: setpriority(PRIO_PROCESS, 0) (os.setPriority(0))
 * changes only the calling thread, and threads it starts later inherit it, so the state
 * sync worker, started from the datapath thread, runs at the same value.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** What became of the request: the value now in force, or why it could not be set. */
export type ThreadNiceOutcome = { nice: number } | { nice: number; error: string };

/**
 * Sets the calling thread's nice value. Raising priority (a lower value than now) needs
 * CAP_SYS_NICE; without it the thread keeps its value and the error says why (the node
 * logs it and runs on).
 */
export function setThreadNice(nice: number, set: (n: number) => void = (n) => os.setPriority(0, n), get: () => number = () => os.getPriority(0)): ThreadNiceOutcome {
  try {
    set(nice);
    return { nice: get() };
  } catch (err) {
    return { nice: get(), error: (err as Error).message };
  }
}

/** A thread's nice value as the kernel reports it (/proc/<task>/stat field 19): 'thread-self' or 'self/task/<tid>'. */
export function threadNiceOf(task: string): number {
  const stat = readFileSync(`/proc/${task}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces), from field 3 on.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(rest[16]);
}
