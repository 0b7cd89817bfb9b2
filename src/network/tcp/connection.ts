// One guest TCP connection, terminated in the supervisor: we act as the remote peer towards the
// guest and relay bytes to a host socket the engine owns. A pure state machine: segments, host
// events and the injected clock go in; segments and engine callbacks come out.
//
// Simplifications from network.md §2 (the virtio link is lossless and in order): no congestion
// control, no SACK, no timestamps, no reassembly queue (a gap is dropped and answered with a
// duplicate ACK), connect-before-SYN-ACK. Sending uses go-back-N from SND.UNA on timeout.
import { MsbError } from "../../errors.ts";
import { ByteQueue } from "./byte-queue.ts";
import {
  DEFAULT_GUEST_MSS,
  DEFAULT_RECEIVE_BUFFER_BYTES,
  DEFAULT_SEND_BUFFER_BYTES,
  DEFAULT_TCP_TIMEOUTS,
  type GuestTcpConnectionOptions,
  MAX_WINDOW_SCALE,
  MIN_GUEST_MSS,
  type TcpTimeouts,
} from "./config.ts";
import { RtoEstimator } from "./rtt.ts";
import {
  hasFlag,
  isConnectionRequest,
  segmentLength,
  TcpFlag,
  type TcpOptions,
  type TcpSegment,
} from "./segment.ts";
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt, seqMax } from "./seq.ts";
import type {
  GuestTcpCallbacks,
  TcpCloseReason,
  TcpEndpointStats,
  TcpSegmentOutcome,
  TcpState,
} from "./types.ts";

const EMPTY = new Uint8Array(0);
const MAX_WINDOW_FIELD = 0xffff;
/** RFC 5681 §3.2: duplicate ACKs that trigger a fast retransmit. */
const DUPLICATE_ACK_THRESHOLD = 3;

/** States in which the guest may still send us data. */
const RECEIVING_STATES: ReadonlySet<TcpState> = new Set(["established", "fin-wait-1", "fin-wait-2"]);
/** States in which we may (re)send data or our FIN. */
const SENDING_STATES: ReadonlySet<TcpState> = new Set([
  "established",
  "close-wait",
  "fin-wait-1",
  "closing",
  "last-ack",
]);

/** The smallest shift that makes `bytes` fit the 16-bit window field (RFC 7323 §2.2). */
function windowScaleFor(bytes: number): number {
  let shift = 0;
  while (bytes / 2 ** shift > MAX_WINDOW_FIELD && shift < MAX_WINDOW_SCALE) shift++;
  return shift;
}

function randomSequence(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}

export class GuestTcpConnection {
  private currentState: TcpState = "awaiting-accept";
  readonly stats: TcpEndpointStats = { bytesFromGuest: 0, bytesToGuest: 0, retransmittedSegments: 0 };

  private readonly now: () => number;
  private readonly timeouts: TcpTimeouts;
  /** Our port (the guest's destination) and the guest's port. */
  private readonly localPort: number;
  private readonly remotePort: number;
  /** The MSS we announce: what fits our link MTU. */
  private readonly localMss: number;
  /** The largest payload we send: the guest's MSS, bounded by our link MTU. */
  private readonly sendMss: number;
  /** Window-scale shifts; both 0 unless the guest's SYN offered WS (RFC 7323 §2.2). */
  private readonly offerWindowScale: boolean;
  private readonly receiveScale: number;
  private readonly sendScale: number;
  private readonly receiveCapacity: number;
  private readonly sendCapacity: number;

  // Receive side (guest → host), RFC 9293 §3.3.1 names.
  private readonly initialReceiveSequence: number;
  private rcvNxt: number;
  /** The right edge of the window we last advertised; it never moves backwards (RFC 9293 §3.8.6). */
  private rcvEdge: number;
  /** Guest bytes accepted and acknowledged while the host socket was full. */
  private readonly hostWriteQueue = new ByteQueue();
  private hostBlocked = false;
  private guestFinReceived = false;
  private hostEndSignalled = false;

  // Send side (host → guest).
  private readonly initialSendSequence: number;
  private sndUna: number;
  private sndNxt: number;
  /** The highest sequence number sent; SND.NXT falls below it after a go-back-N retransmission. */
  private sndMax: number;
  /** The guest's window in bytes (scaled), and the segment that last set it (SND.WL1/WL2). */
  private sndWnd: number;
  private sndWl1: number;
  private sndWl2: number;
  private maxSndWnd: number;
  /** Host bytes not yet acknowledged by the guest; the first one has sequence number `sendQueueSeq`. */
  private readonly sendQueue = new ByteQueue();
  private sendQueueSeq: number;
  /** The host reached EOF: our FIN follows the queued data. */
  private finQueued = false;
  private hostPaused = false;

  // Timers and loss recovery.
  private readonly rto: RtoEstimator;
  /** Retransmission, SYN-ACK or persist (zero-window probe) deadline: at most one runs at a time. */
  private retransmitAt: number | undefined;
  private timeWaitUntil: number | undefined;
  private lastActivityAt: number;
  /** The segment being timed for an RTT sample (RFC 6298 §3: one at a time, none retransmitted). */
  private timedSeq = 0;
  private timedAt: number | undefined;
  private duplicateAcks = 0;
  /** Zero-window probes sent since the guest last sent any ACK. */
  private unansweredProbes = 0;
  /** An ACK is owed to the guest; any segment we send carries it. */
  private ackPending = false;

  /** Creates the connection for a guest SYN; nothing is sent until `accept()` or `refuse()`. */
  constructor(
    syn: TcpSegment,
    private readonly callbacks: GuestTcpCallbacks,
    options: GuestTcpConnectionOptions,
  ) {
    if (!isConnectionRequest(syn)) {
      throw new MsbError("a guest TCP connection must start with a SYN without ACK or RST");
    }
    this.now = options.now;
    this.timeouts = { ...DEFAULT_TCP_TIMEOUTS, ...options.timeouts };
    this.rto = new RtoEstimator({
      initialMs: this.timeouts.rtoInitialMs,
      minMs: this.timeouts.rtoMinMs,
      maxMs: this.timeouts.rtoMaxMs,
    });
    this.localPort = syn.dstPort;
    this.remotePort = syn.srcPort;
    this.localMss = options.mtu - ((options.ipVersion ?? 4) === 4 ? 40 : 60);
    const guestMss = Math.max(syn.options.mss ?? DEFAULT_GUEST_MSS, MIN_GUEST_MSS);
    this.sendMss = Math.min(guestMss, this.localMss);
    this.receiveCapacity = options.receiveBufferBytes ?? DEFAULT_RECEIVE_BUFFER_BYTES;
    this.sendCapacity = options.sendBufferBytes ?? DEFAULT_SEND_BUFFER_BYTES;
    this.offerWindowScale = syn.options.wscale !== undefined;
    this.receiveScale = this.offerWindowScale ? windowScaleFor(this.receiveCapacity) : 0;
    this.sendScale = Math.min(syn.options.wscale ?? 0, MAX_WINDOW_SCALE);

    this.initialReceiveSequence = syn.seq >>> 0;
    this.rcvNxt = seqAdd(syn.seq, 1);
    this.rcvEdge = this.rcvNxt;

    this.initialSendSequence = (options.initialSequence ?? randomSequence()) >>> 0;
    this.sndUna = this.initialSendSequence;
    this.sndNxt = seqAdd(this.initialSendSequence, 1);
    this.sndMax = this.sndNxt;
    this.sendQueueSeq = this.sndNxt;
    // The window in a SYN is never scaled (RFC 7323 §2.2).
    this.sndWnd = syn.window;
    this.maxSndWnd = syn.window;
    this.sndWl1 = this.initialReceiveSequence;
    this.sndWl2 = this.initialSendSequence;
    this.lastActivityAt = this.now();
  }

  get state(): TcpState {
    return this.currentState;
  }

  /** False while the send buffer is full: the engine keeps the host socket paused. */
  get wantsMoreFromHost(): boolean {
    return !this.hostPaused;
  }

  /** The host socket connected and policy allows the flow: answer the guest with SYN-ACK. */
  accept(): void {
    if (this.currentState !== "awaiting-accept") {
      throw new MsbError(`accept() on a guest TCP connection in state ${this.currentState}`);
    }
    this.currentState = "syn-received";
    this.sendSynAck();
    this.armRetransmitTimer();
  }

  /**
   * The host connect failed, timed out or policy denied it: RST|ACK with ack = guest ISN + 1, so
   * the guest sees ECONNREFUSED at once (network.md §2.1). After the handshake this is `abort()`.
   */
  refuse(): void {
    if (this.currentState !== "awaiting-accept") {
      this.abort();
      return;
    }
    this.emitReset();
    this.close("refused");
  }

  /** The host socket failed (ECONNRESET and the like): reset the guest side (network.md §2.4). */
  abort(): void {
    if (this.currentState === "closed" || this.currentState === "time-wait") return;
    this.emitReset();
    this.close("aborted");
  }

  /**
   * Bytes read from the host socket, for the guest. They are copied into the send buffer. Returns
   * false once the buffer is full: the engine pauses the socket until `onHostResume`.
   */
  sendFromHost(bytes: Uint8Array): boolean {
    if (this.currentState === "closed" || this.finQueued) return false;
    this.lastActivityAt = this.now();
    this.sendQueue.push(bytes.slice());
    this.output();
    this.armRetransmitTimer();
    if (this.sendQueue.length >= this.sendCapacity) this.hostPaused = true;
    return !this.hostPaused;
  }

  /** The host socket reached EOF: send FIN after the queued data. */
  hostEnded(): void {
    if (this.currentState === "closed" || this.finQueued) return;
    this.finQueued = true;
    this.output();
    this.armRetransmitTimer();
  }

  /** The host socket drained after `onHostWrite` returned false: flush held data, reopen the window. */
  hostWritable(): void {
    if (this.currentState === "closed") return;
    this.hostBlocked = false;
    this.flushToHost();
    if (RECEIVING_STATES.has(this.currentState) && this.windowUpdateDue()) this.sendAck();
  }

  /** The earliest time `tick()` has work to do, or undefined once closed. */
  nextTimerAt(): number | undefined {
    if (this.currentState === "closed") return undefined;
    if (this.timeWaitUntil !== undefined) return this.timeWaitUntil;
    const idleAt = this.lastActivityAt + this.timeouts.idleMs;
    return this.retransmitAt === undefined ? idleAt : Math.min(this.retransmitAt, idleAt);
  }

  /** Runs the timers that are due according to the injected clock. */
  tick(): void {
    if (this.currentState === "closed") return;
    const now = this.now();
    if (this.timeWaitUntil !== undefined) {
      if (now >= this.timeWaitUntil) this.close("completed");
      return;
    }
    if (now >= this.lastActivityAt + this.timeouts.idleMs) {
      this.failWithReset("idle");
      return;
    }
    if (this.retransmitAt !== undefined && now >= this.retransmitAt) {
      this.retransmitAt = undefined;
      this.onRetransmitTimer();
    }
  }

  /** A segment from the guest for this connection's 4-tuple. */
  handleSegment(segment: TcpSegment): TcpSegmentOutcome {
    switch (this.currentState) {
      case "closed":
        return isConnectionRequest(segment) ? "new-connection" : "handled";
      case "awaiting-accept":
        this.handleBeforeAccept(segment);
        return "handled";
      case "time-wait":
        // RFC 6191 / RFC 1122 §4.2.2.13: a SYN above the old sequence space may reuse the tuple.
        if (isConnectionRequest(segment) && seqGt(segment.seq, this.rcvNxt)) {
          this.close("superseded");
          return "new-connection";
        }
        break;
    }
    this.lastActivityAt = this.now();
    this.handleSynchronized(segment);
    return "handled";
  }

  // ---------------------------------------------------------------------------------------------
  // Incoming segments

  private handleBeforeAccept(segment: TcpSegment): void {
    // Retransmitted SYNs while the host connect is pending are expected and ignored (§2.1).
    if (hasFlag(segment, TcpFlag.rst) && segment.seq === this.rcvNxt) {
      this.callbacks.onHostAbort();
      this.close("reset-by-guest");
    }
  }

  /** RFC 9293 §3.10.7.4, for SYN-RECEIVED and every later state. */
  private handleSynchronized(segment: TcpSegment): void {
    const isRst = hasFlag(segment, TcpFlag.rst);
    const isSyn = hasFlag(segment, TcpFlag.syn);

    if (
      this.currentState === "syn-received" &&
      isConnectionRequest(segment) &&
      segment.seq === this.initialReceiveSequence
    ) {
      // The guest did not get our SYN-ACK yet (or retransmitted early): send it again (§2.1).
      this.sendSynAck();
      return;
    }

    if (!this.isAcceptable(segment)) {
      // RFC 9293: unacceptable segments get an ACK (which also answers keepalives, whose
      // seq = RCV.NXT - 1), unless they are RSTs. A zero-window probe still carries a valid ACK.
      if (isRst) return;
      if (this.currentState === "time-wait" && hasFlag(segment, TcpFlag.fin)) {
        // A retransmitted FIN: our last ACK was lost, so TIME-WAIT restarts (RFC 9293 §3.10.7.4).
        this.timeWaitUntil = this.now() + this.timeouts.timeWaitMs;
      }
      if (
        !isSyn &&
        hasFlag(segment, TcpFlag.ack) &&
        segment.seq === this.rcvNxt &&
        this.currentState !== "syn-received"
      ) {
        this.processAck(segment);
        if (this.currentState === "closed") return;
        this.output();
        this.armRetransmitTimer();
      }
      this.sendAck();
      return;
    }

    if (isRst) {
      // RFC 5961 §3: only an exact match resets; an in-window RST gets a challenge ACK, which a
      // real peer answers with an exact RST. TIME-WAIT ignores RSTs (RFC 1337).
      if (this.currentState === "time-wait") return;
      if (segment.seq === this.rcvNxt) {
        this.callbacks.onHostAbort();
        this.close("reset-by-guest");
      } else {
        this.sendAck();
      }
      return;
    }

    if (isSyn) {
      // RFC 5961 §4: a SYN in a synchronized state gets a challenge ACK and is dropped.
      this.sendAck();
      return;
    }

    if (!hasFlag(segment, TcpFlag.ack)) return;

    if (this.currentState === "syn-received") {
      if (!seqGt(segment.ack, this.initialSendSequence) || seqGt(segment.ack, this.sndMax)) {
        // RFC 9293: an unacceptable ACK in SYN-RECEIVED gets <SEQ=SEG.ACK><CTL=RST>.
        this.emit({ flags: TcpFlag.rst, seq: segment.ack });
        return;
      }
      this.currentState = "established";
      this.sndWnd = segment.window * 2 ** this.sendScale;
      this.maxSndWnd = Math.max(this.maxSndWnd, this.sndWnd);
      this.sndWl1 = segment.seq;
      this.sndWl2 = segment.ack;
    }

    if (!this.processAck(segment)) return;
    if (this.currentState === "closed") return;
    this.processPayloadAndFin(segment);
    this.output();
    this.armRetransmitTimer();
    if (this.ackPending) this.sendAck();
  }

  /** RFC 9293 §3.10.7.4 "first check sequence number". */
  private isAcceptable(segment: TcpSegment): boolean {
    const length = segmentLength(segment);
    const window = seqDiff(this.rcvEdge, this.rcvNxt);
    const inWindow = (seq: number) => seqGe(seq, this.rcvNxt) && seqLt(seq, this.rcvEdge);
    if (length === 0) return window === 0 ? segment.seq === this.rcvNxt : inWindow(segment.seq);
    if (window === 0) return false;
    return inWindow(segment.seq) || inWindow(seqAdd(segment.seq, length - 1));
  }

  /**
   * The ACK field and window of an acceptable segment. Returns false when the segment must be
   * dropped (it acknowledges data never sent, or is implausibly old: RFC 5961 §5).
   */
  private processAck(segment: TcpSegment): boolean {
    const ack = segment.ack;
    if (seqGt(ack, this.sndMax) || seqLt(ack, seqAdd(this.sndUna, -this.maxSndWnd))) {
      this.sendAck();
      return false;
    }
    this.unansweredProbes = 0;
    const advanced = seqGt(ack, this.sndUna);
    if (advanced) this.acknowledge(ack);

    const segmentWindow = segment.window * 2 ** this.sendScale;
    const windowUnchanged = segmentWindow === this.sndWnd;
    if (seqLt(this.sndWl1, segment.seq) || (this.sndWl1 === segment.seq && seqLe(this.sndWl2, ack))) {
      const reopened = this.sndWnd === 0 && segmentWindow > 0;
      this.sndWnd = segmentWindow;
      this.sndWl1 = segment.seq;
      this.sndWl2 = ack;
      this.maxSndWnd = Math.max(this.maxSndWnd, segmentWindow);
      if (reopened) {
        // Whatever went out beyond the zero window (a probe byte, or data the guest shrank its
        // window over) was likely dropped: resend from SND.UNA now rather than after an RTO.
        this.sndNxt = this.sndUna;
        this.rto.resetBackoff();
        this.retransmitAt = undefined;
      }
    }

    // RFC 5681 §2 duplicate ACK. Keepalives never get here (they are unacceptable), and window
    // updates or zero-window probe answers do not count (network.md §2.7 bug 5).
    if (
      !advanced &&
      ack === this.sndUna &&
      segment.payload.length === 0 &&
      !hasFlag(segment, TcpFlag.fin) &&
      windowUnchanged &&
      this.sndWnd > 0 &&
      seqGt(this.sndMax, this.sndUna)
    ) {
      this.duplicateAcks++;
      if (this.duplicateAcks === DUPLICATE_ACK_THRESHOLD) this.fastRetransmit();
    }
    return true;
  }

  /** SND.UNA advances to `ack`: release acknowledged bytes, take an RTT sample, move the state. */
  private acknowledge(ack: number): void {
    const dataAcked = Math.min(Math.max(seqDiff(ack, this.sendQueueSeq), 0), this.sendQueue.length);
    this.sendQueue.consume(dataAcked);
    this.sendQueueSeq = seqAdd(this.sendQueueSeq, dataAcked);
    this.sndUna = ack;
    if (seqGt(ack, this.sndNxt)) this.sndNxt = ack;
    if (this.timedAt !== undefined && seqGe(ack, this.timedSeq)) {
      this.rto.addSample(this.now() - this.timedAt);
      this.timedAt = undefined;
    }
    this.rto.resetBackoff();
    this.retransmitAt = undefined;
    this.duplicateAcks = 0;

    if (this.hostPaused && this.sendQueue.length <= this.sendCapacity / 2) {
      this.hostPaused = false;
      this.callbacks.onHostResume();
    }

    const finAcked = this.finQueued && seqGt(ack, seqAdd(this.sendQueueSeq, this.sendQueue.length));
    if (!finAcked) return;
    switch (this.currentState) {
      case "fin-wait-1":
        this.currentState = "fin-wait-2";
        break;
      case "closing":
        this.enterTimeWait();
        break;
      case "last-ack":
        this.close("completed");
        break;
    }
  }

  private processPayloadAndFin(segment: TcpSegment): void {
    if (!RECEIVING_STATES.has(this.currentState)) return;
    let payload = segment.payload;
    let fin = hasFlag(segment, TcpFlag.fin);
    if (seqGt(segment.seq, this.rcvNxt)) {
      // A gap: on this link only our own drop can cause one. No reassembly queue (network.md
      // §2.2): drop it and send a duplicate ACK so the guest retransmits from RCV.NXT.
      if (payload.length > 0 || fin) this.ackPending = true;
      return;
    }
    // Trim what we already have: guest retransmissions overlap (§2.2 "trim overlap").
    payload = payload.subarray(Math.min(seqDiff(this.rcvNxt, segment.seq), payload.length));
    // Trim what lies beyond the advertised window; the FIN then lies beyond it too.
    const room = seqDiff(this.rcvEdge, this.rcvNxt);
    if (payload.length >= room) {
      fin = false;
      payload = payload.subarray(0, room);
    }
    if (payload.length > 0) {
      this.rcvNxt = seqAdd(this.rcvNxt, payload.length);
      this.stats.bytesFromGuest += payload.length;
      this.writeToHost(payload);
      this.ackPending = true;
    }
    if (!fin) return;
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    this.guestFinReceived = true;
    this.ackPending = true;
    switch (this.currentState) {
      case "established":
        this.currentState = "close-wait";
        break;
      case "fin-wait-1":
        this.currentState = "closing";
        break;
      case "fin-wait-2":
        this.enterTimeWait();
        break;
    }
    this.signalHostEndWhenFlushed();
  }

  // ---------------------------------------------------------------------------------------------
  // Guest → host delivery

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

  /**
   * A graceful close while the host socket is still full: flow control towards the guest no longer
   * matters, so the engine gets every held byte now, then the host end.
   */
  private handOverHeldData(): void {
    for (let chunk = this.hostWriteQueue.shiftChunk(); chunk; chunk = this.hostWriteQueue.shiftChunk()) {
      this.callbacks.onHostWrite(chunk);
    }
    this.hostBlocked = false;
    this.signalHostEndWhenFlushed();
  }

  /** The guest's FIN reaches the host only after every earlier byte (network.md §2.4). */
  private signalHostEndWhenFlushed(): void {
    if (!this.guestFinReceived || this.hostEndSignalled) return;
    if (this.hostBlocked || this.hostWriteQueue.length > 0) return;
    this.hostEndSignalled = true;
    this.callbacks.onHostEnd();
  }

  // ---------------------------------------------------------------------------------------------
  // Receive window

  /**
   * The window we can offer now: free buffer space rounded down to our scale. It is only grown
   * past the current right edge by at least min(buffer / 2, MSS), the receiver side of silly
   * window avoidance (RFC 9293 §3.8.6.2.2).
   */
  private offeredWindow(): number {
    const free = Math.max(this.receiveCapacity - this.hostWriteQueue.length, 0);
    const unit = 2 ** this.receiveScale;
    const offered = Math.floor(Math.min(free, MAX_WINDOW_FIELD * unit) / unit) * unit;
    const current = seqDiff(this.rcvEdge, this.rcvNxt);
    const threshold = Math.min(this.receiveCapacity / 2, this.localMss);
    return offered - current >= threshold ? offered : current;
  }

  private windowUpdateDue(): boolean {
    return this.offeredWindow() > seqDiff(this.rcvEdge, this.rcvNxt);
  }

  /**
   * The scaled window field for an outgoing segment. The right edge never moves backwards: the
   * field is rounded up, so we may hold up to 2^scale - 1 bytes beyond the buffer size.
   */
  private windowField(): number {
    const window = Math.max(this.offeredWindow(), seqDiff(this.rcvEdge, this.rcvNxt));
    const unit = 2 ** this.receiveScale;
    const field = Math.min(Math.ceil(window / unit), MAX_WINDOW_FIELD);
    this.rcvEdge = seqMax(this.rcvEdge, seqAdd(this.rcvNxt, field * unit));
    return field;
  }

  // ---------------------------------------------------------------------------------------------
  // Host → guest sending

  /** Sends new (or, after go-back-N, old) data and the FIN as far as the guest's window allows. */
  private output(): void {
    if (!SENDING_STATES.has(this.currentState)) return;
    for (;;) {
      const usable = seqDiff(seqAdd(this.sndUna, this.sndWnd), this.sndNxt);
      const next = this.sendSegmentAt(this.sndNxt, Math.min(Math.max(usable, 0), this.sendMss));
      if (next === this.sndNxt) return;
      this.sndNxt = next;
      this.sndMax = seqMax(this.sndMax, next);
    }
  }

  /**
   * Sends up to `maxLength` queued bytes starting at `seq`, with our FIN if they end the stream
   * (the FIN needs no window). Returns the sequence number after what was sent.
   */
  private sendSegmentAt(seq: number, maxLength: number): number {
    const dataEnd = seqAdd(this.sendQueueSeq, this.sendQueue.length);
    const remaining = seqDiff(dataEnd, seq);
    const length = Math.max(Math.min(maxLength, remaining), 0);
    const fin = this.finQueued && length === remaining;
    if (length === 0 && !fin) return seq;

    const end = seqAdd(seq, length);
    const fresh = Math.max(seqDiff(end, this.sndMax), 0);
    if (seqLt(seq, this.sndMax)) {
      this.stats.retransmittedSegments++;
    } else if (this.timedAt === undefined) {
      this.timedSeq = seqAdd(end, fin ? 1 : 0);
      this.timedAt = this.now();
    }
    this.stats.bytesToGuest += fresh;

    const payload = this.sendQueue.peek(seqDiff(seq, this.sendQueueSeq), length);
    const push = length > 0 && length === remaining ? TcpFlag.psh : 0;
    this.emit({ flags: TcpFlag.ack | push | (fin ? TcpFlag.fin : 0), seq, payload });
    if (fin) {
      if (this.currentState === "established") this.currentState = "fin-wait-1";
      else if (this.currentState === "close-wait") this.currentState = "last-ack";
    }
    return seqAdd(end, fin ? 1 : 0);
  }

  /** RFC 5681 §3.2: resend the first unacknowledged segment without waiting for the RTO. */
  private fastRetransmit(): void {
    this.timedAt = undefined;
    // Only what was already sent: new data must wait for the window and advance SND.NXT.
    this.sendSegmentAt(this.sndUna, Math.min(this.sendMss, seqDiff(this.sndMax, this.sndUna)));
  }

  private onRetransmitTimer(): void {
    if (this.currentState === "syn-received") {
      if (this.rto.backoffCount >= this.timeouts.maxSynAckRetransmits) {
        this.failWithReset("handshake-timeout");
        return;
      }
      this.rto.backOff();
      this.stats.retransmittedSegments++;
      this.sendSynAck();
      this.armRetransmitTimer();
      return;
    }
    if (this.sndWnd === 0) {
      // Persist timer (RFC 9293 §3.8.6.1): probe with one byte. Keep probing while the guest
      // answers; give up only when the probes themselves go unanswered.
      if (this.unansweredProbes >= this.timeouts.maxRetransmits) {
        this.failWithReset("retransmit-limit");
        return;
      }
      this.unansweredProbes++;
      this.rto.backOff();
      this.timedAt = undefined;
      const next = this.sendSegmentAt(this.sndUna, 1);
      if (seqLt(this.sndNxt, next)) this.sndNxt = next;
      this.sndMax = seqMax(this.sndMax, next);
      this.armRetransmitTimer();
      return;
    }
    if (this.rto.backoffCount >= this.timeouts.maxRetransmits) {
      this.failWithReset("retransmit-limit");
      return;
    }
    // RFC 6298 §5.4–5.6, go-back-N: resend everything from SND.UNA the window allows.
    this.rto.backOff();
    this.timedAt = undefined;
    this.duplicateAcks = 0;
    this.sndNxt = this.sndUna;
    this.output();
    this.armRetransmitTimer();
  }

  /**
   * Starts the one retransmission-type timer if something needs it and it is not running: the
   * SYN-ACK, data or FIN in flight (RFC 6298 §5.1), or queued data facing a zero window (persist).
   */
  private armRetransmitTimer(): void {
    const inFlight = seqGt(this.sndMax, this.sndUna);
    const blockedByZeroWindow =
      this.sndWnd === 0 && seqLt(this.sndNxt, seqAdd(this.sendQueueSeq, this.sendQueue.length));
    const needed =
      this.currentState === "syn-received" ||
      (SENDING_STATES.has(this.currentState) && (inFlight || blockedByZeroWindow));
    if (!needed) {
      this.retransmitAt = undefined;
      return;
    }
    this.retransmitAt ??= this.now() + this.rto.timeoutMs;
  }

  // ---------------------------------------------------------------------------------------------
  // Output helpers and teardown

  private sendSynAck(): void {
    // The SYN-ACK's window is never scaled (RFC 7323 §2.2); WS only if the guest offered it
    // (network.md §2.7 bug 2); no SACK-permitted and no timestamps (§2).
    const window = Math.min(this.receiveCapacity, MAX_WINDOW_FIELD);
    this.rcvEdge = seqMax(this.rcvEdge, seqAdd(this.rcvNxt, window));
    const options: TcpOptions = { mss: this.localMss };
    if (this.offerWindowScale) options.wscale = this.receiveScale;
    this.emit({ flags: TcpFlag.syn | TcpFlag.ack, seq: this.initialSendSequence, window, options });
  }

  private sendAck(): void {
    this.emit({ flags: TcpFlag.ack, seq: this.sndNxt });
  }

  /** RST towards the guest: before the handshake as a refusal, afterwards at SND.MAX. */
  private emitReset(): void {
    if (this.currentState === "awaiting-accept") {
      this.emit({ flags: TcpFlag.rst | TcpFlag.ack, seq: 0 });
    } else {
      this.emit({ flags: TcpFlag.rst | TcpFlag.ack, seq: this.sndMax });
    }
  }

  /** The guest side failed: reset it, destroy the host socket, and close. */
  private failWithReset(reason: TcpCloseReason): void {
    this.emitReset();
    this.callbacks.onHostAbort();
    this.close(reason);
  }

  private emit(fields: {
    flags: number;
    seq: number;
    window?: number;
    options?: TcpOptions;
    payload?: Uint8Array;
  }): void {
    const carriesAck = (fields.flags & TcpFlag.ack) !== 0;
    const isRst = (fields.flags & TcpFlag.rst) !== 0;
    let window = fields.window;
    if (window === undefined) window = isRst ? 0 : this.windowField();
    if (carriesAck) this.ackPending = false;
    this.callbacks.onSegment({
      srcPort: this.localPort,
      dstPort: this.remotePort,
      seq: fields.seq >>> 0,
      ack: carriesAck ? this.rcvNxt : 0,
      flags: fields.flags,
      window,
      options: fields.options ?? {},
      payload: fields.payload ?? EMPTY,
    });
  }

  private enterTimeWait(): void {
    this.currentState = "time-wait";
    this.retransmitAt = undefined;
    this.timeWaitUntil = this.now() + this.timeouts.timeWaitMs;
  }

  private close(reason: TcpCloseReason): void {
    if (reason === "completed" || reason === "superseded") this.handOverHeldData();
    this.currentState = "closed";
    this.retransmitAt = undefined;
    this.timeWaitUntil = undefined;
    this.callbacks.onClosed(reason);
  }
}
