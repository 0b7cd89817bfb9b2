// Tunables of the guest TCP endpoint, with defaults taken from network.md §1.1 (passt), §1.4
// (smoltcp) and RFC 6298.

export interface TcpTimeouts {
  /** RFC 6298 §2.1 initial RTO. */
  rtoInitialMs: number;
  /** Lower bound of the RTO; RFC 6298 asks for 1 s, but the virtio link's RTT is microseconds. */
  rtoMinMs: number;
  rtoMaxMs: number;
  /** Consecutive unanswered retransmissions (or zero-window probes) before we reset. */
  maxRetransmits: number;
  /** SYN-ACK retransmissions before the handshake is abandoned. */
  maxSynAckRetransmits: number;
  /** SYN retransmissions of an active open (`connect()`) before it is abandoned. */
  maxSynRetransmits: number;
  /** TIME-WAIT after we closed first: short, as on a lossless link only a lost ACK matters. */
  timeWaitMs: number;
  /** A connection with no segment from the guest and no host data for this long is reset. */
  idleMs: number;
}

export const DEFAULT_TCP_TIMEOUTS: TcpTimeouts = {
  rtoInitialMs: 1000,
  rtoMinMs: 200,
  rtoMaxMs: 60_000,
  maxRetransmits: 10,
  maxSynAckRetransmits: 5,
  maxSynRetransmits: 5,
  timeWaitMs: 5000,
  idleMs: 2 * 60 * 60 * 1000,
};

export interface GuestTcpConnectionOptions {
  /** The clock, in milliseconds; the engine's and the tests' single source of time. */
  now: () => number;
  /** The link MTU; our MSS is this minus the IP and TCP headers. */
  mtu: number;
  ipVersion?: 4 | 6;
  /** Guest→host bytes we hold while the host socket is full; sets the advertised window. */
  receiveBufferBytes?: number;
  /** Host→guest bytes queued (unsent or unacknowledged) before `sendFromHost` asks for a pause. */
  sendBufferBytes?: number;
  /** Our initial sequence number; random (RFC 6528 spirit) unless a test fixes it. */
  initialSequence?: number;
  timeouts?: Partial<TcpTimeouts>;
}

export const DEFAULT_RECEIVE_BUFFER_BYTES = 1024 * 1024;
export const DEFAULT_SEND_BUFFER_BYTES = 1024 * 1024;
/** RFC 9293 §3.7.1: the MSS to assume when the SYN carries none (IPv4). */
export const DEFAULT_GUEST_MSS = 536;
/** Floor for the guest's MSS so a hostile MSS of 0 or 1 cannot stall or flood the sender. */
export const MIN_GUEST_MSS = 64;
/** RFC 7323 §2.3: the largest window-scale shift. */
export const MAX_WINDOW_SCALE = 14;
