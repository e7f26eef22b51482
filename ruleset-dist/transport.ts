/**
 * What the distributor needs from the network: datagrams to every peer (ANNOUNCE,
 * UPDATE) and one request/response exchange with one peer (FETCH). The UDP/TCP
 * implementation is udp-transport.ts; tests use testing/memory-transport.ts.
 *
 * An exchange's message starts with a fixed-size head that the distributor checks (key,
 * length cap, sender, sequence) through a StreamGate before the transport reads any of the
 * body: the transport never buffers bytes nobody authenticated.
 */
export interface StreamGate {
  /** Bytes of the head every message of the exchange starts with. */
  readonly headBytes: number;
  /** Bytes still to read after `head`; throws to refuse the message (the connection is closed). */
  check(head: Uint8Array): number;
}

/** The fetch server's connection counters (for metrics). */
export interface FetchServerCounters {
  /** Connections open now. */
  open: number;
  /** Connections closed at once because `maxConnections` were open. */
  refusedLimit: number;
  /** Connections closed at their absolute deadline. */
  closedDeadline: number;
  /** Connections closed because their head was refused by the gate (key, size, replay). */
  refusedHead: number;
}

export interface DistTransport {
  /** Sends one datagram to every peer (the multicast group, or each unicast peer). */
  broadcast(bytes: Uint8Array): void;
  /** Received datagrams with the sender's address (where its fetch server listens). */
  onDatagram(fn: (bytes: Uint8Array, from: string) => void): void;
  /** Sends `bytes` to the fetch server at `to` and resolves with its one answer, read through `gate`. */
  request(to: string, bytes: Uint8Array, timeoutMs: number, gate: StreamGate): Promise<Uint8Array>;
  /** Answers fetch requests read through `gate`; `undefined` closes the exchange without an answer. */
  serve(fn: (bytes: Uint8Array, from: string) => Promise<Uint8Array | undefined>, gate: StreamGate): void;
  /** Counters of the fetch server, when it has a real one. */
  readonly serverCounters?: FetchServerCounters;
  close(): Promise<void>;
}
