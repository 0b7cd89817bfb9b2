// The seam between TLS interception (src/network/tls, which owns the connections) and secret
// substitution (src/network/secrets, which owns what may cross them). The interceptor hands every
// guest byte stream it relays to a StreamFilter obtained from a FlowGuard.

/** What is known about a guest connection when it is opened. */
export interface FlowContext {
  /** Destination as the guest addressed it. */
  dstIp: string;
  dstPort: number;
  /** Names this sandbox's own DNS resolved to dstIp (lower case, no trailing dot). */
  domains: string[];
  /** TLS server name from the guest's ClientHello; absent on plain connections. */
  sni?: string;
}

/**
 * Transforms one direction of a byte stream. `push` returns the bytes to forward now (it may hold
 * back a tail that could be the start of a split placeholder) or null when the stream must be cut
 * (a violation; the guard has already reported it). `end` flushes what was held back.
 */
export interface StreamFilter {
  push(chunk: Uint8Array): Uint8Array | null;
  end(): Uint8Array | null;
}

export interface TlsFlowFilters {
  /** Decrypted guest → upstream bytes (HTTP/1.1 requests). */
  request: StreamFilter;
  /** Decrypted upstream → guest bytes. */
  response: StreamFilter;
}

/** Decides what a sandbox's secrets allow on each connection. */
export interface FlowGuard {
  /** For a TLS connection the interceptor terminates. */
  forTls(context: FlowContext): TlsFlowFilters;
  /** For guest bytes on a connection that is relayed as is (plain TCP or spliced TLS). */
  forPlain(context: FlowContext): StreamFilter;
  /** A UDP payload from the guest: false when it must be dropped. */
  allowDatagram(context: FlowContext, payload: Uint8Array): boolean;
}
