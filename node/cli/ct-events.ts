/**
 * `hafw ct events`: follows the node's connection events like `conntrack -E`, one line
 * per event (`[NEW] tcp 6 120 SYN_SENT src=... [UNREPLIED] src=...`) or one JSON object
 * per line with --json, over GET /v1/ct/events (Server-Sent Events). The filters go to the
 * node, which matches them on the datapath thread: what is filtered out never crosses.
 */
import type { CtEventJson } from '../conntrack/index.js';
import type { Target } from '../api/client.js';
import { openEventStream, followUntilStopped } from './event-stream.js';

/** One event as conntrack -E prints it: the kind in brackets, then the connection as `hafw ct list` does. */
export function formatCtEventLine(e: CtEventJson, formatEntry: (e: CtEventJson) => string): string {
  return `${`[${e.event.toUpperCase()}]`.padStart(9)} ${formatEntry(e)}`;
}

/**
 * Streams events until `count` were printed, the node ends the stream, or SIGINT/SIGTERM.
 * `query` holds the route's query parameters (filters already checked by the caller).
 */
export async function followCtEvents(node: Target, query: Record<string, string | number>, opts: { json: boolean; count: number; formatEntry: (e: CtEventJson) => string }): Promise<number> {
  let seen = 0;
  const qs = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)])).toString();
  const stream = openEventStream(
    (type, data) => {
      if (type !== 'ct') return;
      const e = data as CtEventJson;
      process.stdout.write(opts.json ? `${JSON.stringify(e)}\n` : `${formatCtEventLine(e, opts.formatEntry)}\n`);
      if (++seen >= opts.count) stream.stop();
    },
    { ...node, path: `/v1/ct/events${qs ? `?${qs}` : ''}`, command: 'hafw ct events' },
  );
  await followUntilStopped(stream);
  if (!opts.json) console.error(`hafw ct events: ${seen} flow events have been shown.`);
  return 0;
}
