// The guest → host half of a guest TCP connection (RCV.* in RFC 9293 §3.3.1): which segments are
// acceptable, in-order delivery to the host socket, the data we hold while the host socket is
// full, and the window we advertise for it. The connection decides when the guest may still send
// and owns the state changes that the guest's FIN causes.
import { ByteQueue } from "./byte-queue.ts";
import { MAX_WINDOW_FIELD, type NegotiatedParameters } from "./negotiated-parameters.ts";
import { hasFlag, segmentLength, TcpFlag, type TcpSegment } from "./segment.ts";
import { seqAdd, seqDiff, seqGe, seqGt, seqLt, seqMax } from "./seq.ts";
import type { GuestTcpCallbacks, TcpEndpointStats } from "./types.ts";

export class TcpReceiver {
  /** The guest's initial sequence number, from its SYN (or SYN-ACK after an active open). */
  private peerInitialSequence: number;
  private nextExpected: number;
  /** The right edge of the window we last advertised; it never moves backwards (RFC 9293 §3.8.6). */
  private rcvEdge: number;
  /** Guest bytes accepted and acknowledged while the host socket was full. */
  private readonly hostWriteQueue = new ByteQueue();
  private hostBlocked = false;
  private guestFinReceived = false;
  private hostEndSignalled = false;
  /** An ACK is owed to the guest; any segment we send carries it. */
  ackPending = false;

  /**
   * `peerInitialSequence` is the sequence number of the guest's SYN. An active open does not know
   * it yet: it passes a placeholder and calls `synchronize()` at the guest's SYN-ACK.
   */
  constructor(
    peerInitialSequence: number,
    private readonly parameters: NegotiatedParameters,
    private readonly stats: TcpEndpointStats,
    private readonly callbacks: GuestTcpCallbacks,
  ) {
    this.peerInitialSequence = peerInitialSequence >>> 0;
    this.nextExpected = seqAdd(peerInitialSequence, 1);
    this.rcvEdge = this.nextExpected;
  }

  /** The guest's initial sequence number. */
  get initialSequence(): number {
    return this.peerInitialSequence;
  }

  /**
   * Active open: the guest's SYN-ACK tells its initial sequence number. The window our SYN offered
   * (`synWindow()`) now starts at RCV.NXT.
   */
  synchronize(peerInitialSequence: number): void {
    this.peerInitialSequence = peerInitialSequence >>> 0;
    this.nextExpected = seqAdd(peerInitialSequence, 1);
    this.rcvEdge = this.nextExpected;
    this.synWindow();
  }

  /** RCV.NXT: the next sequence number we expect, and the ACK field of what we send. */
  get rcvNxt(): number {
    return this.nextExpected;
  }

  /** RFC 9293 §3.10.7.4 "first check sequence number". */
  isAcceptable(segment: TcpSegment): boolean {
    const length = segmentLength(segment);
    const window = seqDiff(this.rcvEdge, this.nextExpected);
    const inWindow = (seq: number) => seqGe(seq, this.nextExpected) && seqLt(seq, this.rcvEdge);
    if (length === 0) return window === 0 ? segment.seq === this.nextExpected : inWindow(segment.seq);
    if (window === 0) return false;
    return inWindow(segment.seq) || inWindow(seqAdd(segment.seq, length - 1));
  }

  /**
   * Takes the payload and FIN of an acceptable segment in order. Returns true when the guest's FIN
   * was taken; the caller then moves the state and calls `signalHostEndWhenFlushed()`.
   */
  receive(segment: TcpSegment): boolean {
    let payload = segment.payload;
    let fin = hasFlag(segment, TcpFlag.fin);
    if (seqGt(segment.seq, this.nextExpected)) {
      // A gap: on this link only our own drop can cause one. No reassembly queue (network.md
      // §2.2): drop it and send a duplicate ACK so the guest retransmits from RCV.NXT.
      if (payload.length > 0 || fin) this.ackPending = true;
      return false;
    }
    // Trim what we already have: guest retransmissions overlap (§2.2 "trim overlap").
    payload = payload.subarray(Math.min(seqDiff(this.nextExpected, segment.seq), payload.length));
    // Trim what lies beyond the advertised window; the FIN then lies beyond it too.
    const room = seqDiff(this.rcvEdge, this.nextExpected);
    if (payload.length >= room) {
      fin = false;
      payload = payload.subarray(0, room);
    }
    if (payload.length > 0) {
      this.nextExpected = seqAdd(this.nextExpected, payload.length);
      this.stats.bytesFromGuest += payload.length;
      this.writeToHost(payload);
      this.ackPending = true;
    }
    if (!fin) return false;
    this.nextExpected = seqAdd(this.nextExpected, 1);
    this.guestFinReceived = true;
    this.ackPending = true;
    return true;
  }

  /** The host socket drained: deliver held data until it fills again. */
  hostWritable(): void {
    this.hostBlocked = false;
    this.flushToHost();
  }

  /**
   * A graceful close while the host socket is still full: flow control towards the guest no longer
   * matters, so the engine gets every held byte now, then the host end.
   */
  handOverHeldData(): void {
    for (let chunk = this.hostWriteQueue.shiftChunk(); chunk; chunk = this.hostWriteQueue.shiftChunk()) {
      this.callbacks.onHostWrite(chunk);
    }
    this.hostBlocked = false;
    this.signalHostEndWhenFlushed();
  }

  /** The guest's FIN reaches the host only after every earlier byte (network.md §2.4). */
  signalHostEndWhenFlushed(): void {
    if (!this.guestFinReceived || this.hostEndSignalled) return;
    if (this.hostBlocked || this.hostWriteQueue.length > 0) return;
    this.hostEndSignalled = true;
    this.callbacks.onHostEnd();
  }

  private writeToHost(bytes: Uint8Array): void {
    if (this.hostBlocked || this.hostWriteQueue.length > 0) {
      // The array may alias the engine's link buffer, so keep a copy.
      this.hostWriteQueue.push(bytes.slice());
      return;
    }
    if (!this.callbacks.onHostWrite(bytes)) this.hostBlocked = true;
  }

  private flushToHost(): void {
    while (!this.hostBlocked) {
      const chunk = this.hostWriteQueue.shiftChunk();
      if (chunk === undefined) break;
      if (!this.callbacks.onHostWrite(chunk)) this.hostBlocked = true;
    }
    this.signalHostEndWhenFlushed();
  }

  // ---------------------------------------------------------------------------------------------
  // Advertised window

  /** Whether freed buffer space is worth a window update on its own. */
  windowUpdateDue(): boolean {
    return this.offeredWindow() > seqDiff(this.rcvEdge, this.nextExpected);
  }

  /**
   * The window of our SYN-ACK or SYN, which is never scaled (RFC 7323 §2.2); advertising it moves
   * the right edge.
   */
  synWindow(): number {
    const window = Math.min(this.parameters.receiveCapacity, MAX_WINDOW_FIELD);
    this.rcvEdge = seqMax(this.rcvEdge, seqAdd(this.nextExpected, window));
    return window;
  }

  /**
   * The scaled window field for an outgoing segment. The right edge never moves backwards: the
   * field is rounded up, so we may hold up to 2^scale - 1 bytes beyond the buffer size.
   */
  windowField(): number {
    const window = Math.max(this.offeredWindow(), seqDiff(this.rcvEdge, this.nextExpected));
    const unit = 2 ** this.parameters.receiveScale;
    const field = Math.min(Math.ceil(window / unit), MAX_WINDOW_FIELD);
    this.rcvEdge = seqMax(this.rcvEdge, seqAdd(this.nextExpected, field * unit));
    return field;
  }

  /**
   * The window we can offer now: free buffer space rounded down to our scale. It is only grown
   * past the current right edge by at least min(buffer / 2, MSS), the receiver side of silly
   * window avoidance (RFC 9293 §3.8.6.2.2).
   */
  private offeredWindow(): number {
    const { receiveCapacity, receiveScale, localMss } = this.parameters;
    const free = Math.max(receiveCapacity - this.hostWriteQueue.length, 0);
    const unit = 2 ** receiveScale;
    const offered = Math.floor(Math.min(free, MAX_WINDOW_FIELD * unit) / unit) * unit;
    const current = seqDiff(this.rcvEdge, this.nextExpected);
    const threshold = Math.min(receiveCapacity / 2, localMss);
    return offered - current >= threshold ? offered : current;
  }
}
