// The types the engine sees around one guest TCP connection: its state, why it closed, the
// callbacks it drives, and counters for metrics.
import type { TcpSegment } from "./segment.ts";

/**
 * RFC 9293 states, plus `awaiting-accept`: the guest's SYN has arrived and the engine is checking
 * policy and connecting the host socket before any answer goes out (network.md §2.1). `syn-sent`
 * only occurs after an active open (`GuestTcpConnection.connect()`).
 */
export type TcpState =
  | "awaiting-accept"
  | "syn-sent"
  | "syn-received"
  | "established"
  | "fin-wait-1"
  | "fin-wait-2"
  | "closing"
  | "time-wait"
  | "close-wait"
  | "last-ack"
  | "closed";

export type TcpCloseReason =
  /** Both FINs exchanged and acknowledged (after TIME-WAIT when we closed first). */
  | "completed"
  /**
   * `refuse()` before the handshake: the guest saw RST|ACK, i.e. ECONNREFUSED. After an active
   * open: the guest answered our SYN with RST (nothing listens on the port).
   */
  | "refused"
  /** `abort()`: the host socket failed and the guest got a RST. */
  | "aborted"
  /** The guest sent an acceptable RST. */
  | "reset-by-guest"
  /** The guest never completed the handshake after our SYN-ACK (or, active open, SYN) retransmissions. */
  | "handshake-timeout"
  /** The guest stopped acknowledging data, FIN or window probes. */
  | "retransmit-limit"
  /** Nothing happened on the connection for the idle timeout. */
  | "idle"
  /** A new SYN for the same 4-tuple ended TIME-WAIT early (RFC 6191). */
  | "superseded";

/**
 * What `handleSegment` did with a segment. `new-connection`: the segment is a SYN that starts a new
 * connection on this 4-tuple; this one has closed, and the engine should create a fresh
 * `GuestTcpConnection` from the same segment.
 */
export type TcpSegmentOutcome = "handled" | "new-connection";

/**
 * Callbacks into the engine. They are called synchronously from the connection's methods and must
 * not call back into the same connection before returning (defer with queueMicrotask instead).
 */
export interface GuestTcpCallbacks {
  /** A segment for the guest: the engine wraps it in IP and Ethernet and sends it on the link. */
  onSegment(segment: TcpSegment): void;
  /**
   * In-order guest bytes for the host socket. The engine owns them from here: it writes what the
   * socket takes and keeps the rest (copying it: the array may alias a link buffer). Returns false
   * when the socket could not take everything; the connection then holds further guest data in its
   * own bounded buffer, shrinking the advertised window, until the engine calls `hostWritable()`.
   * At a graceful close the connection hands over whatever it still holds, whatever the answer.
   */
  onHostWrite(bytes: Uint8Array): boolean;
  /** The guest sent FIN and every earlier byte has gone to `onHostWrite`: half-close the socket. */
  onHostEnd(): void;
  /** The guest side is gone (RST, retransmission limit, idle): destroy the host socket. */
  onHostAbort(): void;
  /** The send buffer drained after `sendFromHost` returned false: resume reading the host socket. */
  onHostResume(): void;
  /**
   * Active open only (`GuestTcpConnection.connect()`): the guest answered our SYN with an
   * acceptable SYN-ACK and the connection is established. Host data queued before this goes out
   * right after it. A failed open reports `onHostAbort` and `onClosed` instead.
   */
  onConnected?(): void;
  /**
   * The connection is finished; the engine forgets the 4-tuple. After `completed` or `superseded`
   * every guest byte and the host end have been handed over, so the engine ends the host socket
   * once its own pending writes drain; after any other reason it destroys the socket.
   */
  onClosed(reason: TcpCloseReason): void;
}

/** Our port (the guest's destination port) and the guest's port. */
export interface TcpPorts {
  localPort: number;
  remotePort: number;
}

export interface TcpEndpointStats {
  /** Payload bytes accepted from the guest, in order. */
  bytesFromGuest: number;
  /** Payload bytes sent to the guest for the first time. */
  bytesToGuest: number;
  /** Segments sent again: RTO, fast retransmit, window probes, SYN-ACK. */
  retransmittedSegments: number;
}
