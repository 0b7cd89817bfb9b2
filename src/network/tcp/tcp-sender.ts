// The host → guest half of a guest TCP connection (SND.* in RFC 9293 §3.3.1): the send buffer,
// segmentation within the guest's window, ACK and window processing, and loss recovery: go-back-N
// from SND.UNA on timeout, fast retransmit and zero-window probing. The connection decides when
// sending is allowed and owns the state changes that our FIN causes.
import { ByteQueue } from "./byte-queue.ts";
import type { TcpTimeouts } from "./config.ts";
import type { NegotiatedParameters } from "./negotiated-parameters.ts";
import { RtoEstimator } from "./rtt.ts";
import { hasFlag, TcpFlag, type TcpSegment } from "./segment.ts";
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt, seqMax } from "./seq.ts";
import type { TcpEndpointStats } from "./types.ts";

/** RFC 5681 §3.2: duplicate ACKs that trigger a fast retransmit. */
const DUPLICATE_ACK_THRESHOLD = 3;

/** What the sender needs from its connection. */
export interface TcpSenderHooks {
  now(): number;
  /** Whether the connection's state still lets data or our FIN go out. */
  canSend(): boolean;
  /** Sends a segment carrying our ACK (and the current window) to the guest. */
  emit(fields: { flags: number; seq: number; payload: Uint8Array }): void;
  /** Our FIN went out for the first time or again. */
  onFinSent(): void;
  /** The guest acknowledged our FIN. */
  onFinAcked(): void;
  /** The send buffer drained after the host was paused. */
  onHostResume(): void;
}

export class TcpSender {
  readonly rto: RtoEstimator;
  /** Our initial sequence number: the sequence number of our SYN-ACK (or SYN). */
  readonly initialSequence: number;
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
  /** Retransmission, SYN-ACK or persist (zero-window probe) deadline: at most one runs at a time. */
  private retransmitDeadline: number | undefined;
  /** The segment being timed for an RTT sample (RFC 6298 §3: one at a time, none retransmitted). */
  private timedSeq = 0;
  private timedAt: number | undefined;
  private duplicateAcks = 0;
  /** Zero-window probes sent since the guest last sent any ACK. */
  private unansweredProbes = 0;

  /**
   * `peerSyn` gives the guest's initial window (and SND.WL1). An active open does not know it yet:
   * it passes zeros and calls `takeSynAck()` at the guest's SYN-ACK.
   */
  constructor(
    peerSyn: Pick<TcpSegment, "seq" | "window">,
    initialSequence: number,
    private readonly parameters: NegotiatedParameters,
    private readonly timeouts: TcpTimeouts,
    private readonly stats: TcpEndpointStats,
    private readonly hooks: TcpSenderHooks,
  ) {
    this.rto = new RtoEstimator({
      initialMs: timeouts.rtoInitialMs,
      minMs: timeouts.rtoMinMs,
      maxMs: timeouts.rtoMaxMs,
    });
    this.initialSequence = initialSequence;
    this.sndUna = initialSequence;
    this.sndNxt = seqAdd(initialSequence, 1);
    this.sndMax = this.sndNxt;
    this.sendQueueSeq = this.sndNxt;
    // The window in a SYN is never scaled (RFC 7323 §2.2).
    this.sndWnd = peerSyn.window;
    this.maxSndWnd = peerSyn.window;
    this.sndWl1 = peerSyn.seq >>> 0;
    this.sndWl2 = initialSequence;
  }

  /** SND.NXT: the sequence number of a bare ACK. */
  get nextSeq(): number {
    return this.sndNxt;
  }

  /** SND.MAX: the sequence number of our RST once synchronized. */
  get maxSeq(): number {
    return this.sndMax;
  }

  get retransmitAt(): number | undefined {
    return this.retransmitDeadline;
  }

  get endOfStreamQueued(): boolean {
    return this.finQueued;
  }

  get wantsMoreFromHost(): boolean {
    return !this.hostPaused;
  }

  /** Copies host bytes into the send buffer; the caller sends them with `output()`. */
  queue(bytes: Uint8Array): void {
    this.sendQueue.push(bytes.slice());
  }

  /** Pauses the host once the send buffer is full; returns whether it may keep sending. */
  pauseHostIfFull(): boolean {
    if (this.sendQueue.length >= this.parameters.sendCapacity) this.hostPaused = true;
    return !this.hostPaused;
  }

  /** The host reached EOF: our FIN follows the queued data. */
  queueFin(): void {
    this.finQueued = true;
  }

  /** Data or our FIN in flight, or queued data facing a zero window: the timer must run. */
  hasOutstandingWork(): boolean {
    const inFlight = seqGt(this.sndMax, this.sndUna);
    const blockedByZeroWindow =
      this.sndWnd === 0 && seqLt(this.sndNxt, seqAdd(this.sendQueueSeq, this.sendQueue.length));
    return inFlight || blockedByZeroWindow;
  }

  /** Starts the retransmission-type timer unless it is already running (RFC 6298 §5.1). */
  startRetransmitTimer(): void {
    this.retransmitDeadline ??= this.hooks.now() + this.rto.timeoutMs;
  }

  stopRetransmitTimer(): void {
    this.retransmitDeadline = undefined;
  }

  /** RFC 9293: the ACK that completes the handshake must cover our SYN and nothing unsent. */
  isAcceptableHandshakeAck(ack: number): boolean {
    return seqGt(ack, this.initialSequence) && !seqGt(ack, this.sndMax);
  }

  /** The handshake's ACK sets the guest's window, now scaled (RFC 7323 §2.2). */
  takeHandshakeWindow(segment: TcpSegment): void {
    this.sndWnd = segment.window * 2 ** this.parameters.sendScale;
    this.maxSndWnd = Math.max(this.maxSndWnd, this.sndWnd);
    this.sndWl1 = segment.seq;
    this.sndWl2 = segment.ack;
  }

  /**
   * Active open: the guest's SYN-ACK (its ACK already checked by `isAcceptableHandshakeAck`)
   * acknowledges our SYN and sets the guest's window, which in a SYN is never scaled.
   */
  takeSynAck(segment: TcpSegment): void {
    this.sndUna = segment.ack;
    this.sndWnd = segment.window;
    this.maxSndWnd = Math.max(this.maxSndWnd, segment.window);
    this.sndWl1 = segment.seq;
    this.sndWl2 = segment.ack;
    this.rto.resetBackoff();
    this.retransmitDeadline = undefined;
  }

  /**
   * The ACK field and window of an acceptable segment. Returns false when the segment must be
   * dropped and answered with an ACK (it acknowledges data never sent, or is implausibly old:
   * RFC 5961 §5).
   */
  processAck(segment: TcpSegment): boolean {
    const ack = segment.ack;
    if (seqGt(ack, this.sndMax) || seqLt(ack, seqAdd(this.sndUna, -this.maxSndWnd))) return false;
    this.unansweredProbes = 0;
    const advanced = seqGt(ack, this.sndUna);
    if (advanced) this.acknowledge(ack);

    const segmentWindow = segment.window * 2 ** this.parameters.sendScale;
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
        this.retransmitDeadline = undefined;
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

  /** Sends new (or, after go-back-N, old) data and the FIN as far as the guest's window allows. */
  output(): void {
    if (!this.hooks.canSend()) return;
    for (;;) {
      const usable = seqDiff(seqAdd(this.sndUna, this.sndWnd), this.sndNxt);
      const next = this.sendSegmentAt(this.sndNxt, Math.min(Math.max(usable, 0), this.parameters.sendMss));
      if (next === this.sndNxt) return;
      this.sndNxt = next;
      this.sndMax = seqMax(this.sndMax, next);
    }
  }

  /**
   * The retransmission timer fired after the handshake. Returns false when the guest stopped
   * answering (retransmission or probe limit reached) and the connection must be reset.
   */
  retransmitOnTimeout(): boolean {
    if (this.sndWnd === 0) {
      // Persist timer (RFC 9293 §3.8.6.1): probe with one byte. Keep probing while the guest
      // answers; give up only when the probes themselves go unanswered.
      if (this.unansweredProbes >= this.timeouts.maxRetransmits) return false;
      this.unansweredProbes++;
      this.rto.backOff();
      this.timedAt = undefined;
      const next = this.sendSegmentAt(this.sndUna, 1);
      if (seqLt(this.sndNxt, next)) this.sndNxt = next;
      this.sndMax = seqMax(this.sndMax, next);
      return true;
    }
    if (this.rto.backoffCount >= this.timeouts.maxRetransmits) return false;
    // RFC 6298 §5.4–5.6, go-back-N: resend everything from SND.UNA the window allows.
    this.rto.backOff();
    this.timedAt = undefined;
    this.duplicateAcks = 0;
    this.sndNxt = this.sndUna;
    this.output();
    return true;
  }

  /** SND.UNA advances to `ack`: release acknowledged bytes, take an RTT sample, resume the host. */
  private acknowledge(ack: number): void {
    const dataAcked = Math.min(Math.max(seqDiff(ack, this.sendQueueSeq), 0), this.sendQueue.length);
    this.sendQueue.consume(dataAcked);
    this.sendQueueSeq = seqAdd(this.sendQueueSeq, dataAcked);
    this.sndUna = ack;
    if (seqGt(ack, this.sndNxt)) this.sndNxt = ack;
    if (this.timedAt !== undefined && seqGe(ack, this.timedSeq)) {
      this.rto.addSample(this.hooks.now() - this.timedAt);
      this.timedAt = undefined;
    }
    this.rto.resetBackoff();
    this.retransmitDeadline = undefined;
    this.duplicateAcks = 0;

    if (this.hostPaused && this.sendQueue.length <= this.parameters.sendCapacity / 2) {
      this.hostPaused = false;
      this.hooks.onHostResume();
    }

    const finAcked = this.finQueued && seqGt(ack, seqAdd(this.sendQueueSeq, this.sendQueue.length));
    if (finAcked) this.hooks.onFinAcked();
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
      this.timedAt = this.hooks.now();
    }
    this.stats.bytesToGuest += fresh;

    const payload = this.sendQueue.peek(seqDiff(seq, this.sendQueueSeq), length);
    const push = length > 0 && length === remaining ? TcpFlag.psh : 0;
    this.hooks.emit({ flags: TcpFlag.ack | push | (fin ? TcpFlag.fin : 0), seq, payload });
    if (fin) this.hooks.onFinSent();
    return seqAdd(end, fin ? 1 : 0);
  }

  /** RFC 5681 §3.2: resend the first unacknowledged segment without waiting for the RTO. */
  private fastRetransmit(): void {
    this.timedAt = undefined;
    // Only what was already sent: new data must wait for the window and advance SND.NXT.
    this.sendSegmentAt(this.sndUna, Math.min(this.parameters.sendMss, seqDiff(this.sndMax, this.sndUna)));
  }
}
