/**
 * What the distributor needs from the network: datagrams to every peer (ANNOUNCE,
 * UPDATE) and one request/response exchange with one peer (FETCH). The UDP/TCP
 * implementation is udp-transport.ts; tests use testing/memory-transport.ts.
 */
export interface DistTransport {
  /** Sends one datagram to every peer (the multicast group, or each unicast peer). */
  broadcast(bytes: Uint8Array): void;
  /** Received datagrams with the sender's address (where its fetch server listens). */
  onDatagram(fn: (bytes: Uint8Array, from: string) => void): void;
  /** Sends `bytes` to the fetch server at `to` and resolves with its one answer. */
  request(to: string, bytes: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  /** Answers fetch requests; `undefined` closes the exchange without an answer. */
  serve(fn: (bytes: Uint8Array, from: string) => Promise<Uint8Array | undefined>): void;
  close(): Promise<void>;
}
