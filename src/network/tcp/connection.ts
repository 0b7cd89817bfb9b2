// One guest TCP connection, terminated in the supervisor: we act as the remote peer towards the
// guest and relay bytes to a host socket the engine owns. A pure state machine: segments, host
// events and the injected clock go in; segments and engine callbacks come out. This file holds the
// connection state, the handshake, segment dispatch, timers and teardown; the two data directions
// live in tcp-sender.ts and tcp-receiver.ts, and segment-writer.ts builds what we send.
//
// Two ways in: the constructor is a passive open (the guest sent SYN, the engine calls accept()),
// `GuestTcpConnection.connect()` an active open into the guest for published ports (we send SYN
// from the gateway; the guest's SYN-ACK establishes the connection). Once established both are
// the same state machine.
//
// Simplifications from network.md §2 (the virtio link is lossless and in order): no congestion
// control, no SACK, no timestamps, no reassembly queue (a gap is dropped and answered with a
// duplicate ACK), connect-before-SYN-ACK. Sending uses go-back-N from SND.UNA on timeout.
import { MsbError } from "../../errors.ts";
import { DEFAULT_TCP_TIMEOUTS, type GuestTcpConnectionOptions, type TcpTimeouts } from "./config.ts";
import {
  type NegotiatedParameters,
  negotiateParameters,
  offerParameters,
  settleOffer,
} from "./negotiated-parameters.ts";
import { hasFlag, isConnectionRequest, resetForUnknownSegment, TcpFlag, type TcpSegment } from "./segment.ts";
import { SegmentWriter } from "./segment-writer.ts";
import { seqGt } from "./seq.ts";
import { TcpReceiver } from "./tcp-receiver.ts";
import { TcpSender } from "./tcp-sender.ts";
import type {
  GuestTcpCallbacks,
  TcpCloseReason,
  TcpEndpointStats,
  TcpPorts,
  TcpSegmentOutcome,
  TcpState,
} from "./types.ts";

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

function randomSequence(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}

/** The constructor argument of an active open; not exported, so only `connect()` makes one. */
class ActiveOpen {
  readonly #ports: TcpPorts;
  constructor(ports: TcpPorts) {
    this.#ports = { localPort: ports.localPort, remotePort: ports.remotePort };
  }
  get ports(): TcpPorts {
    return this.#ports;
  }
}

export class GuestTcpConnection {
  private currentState: TcpState;
  readonly stats: TcpEndpointStats = { bytesFromGuest: 0, bytesToGuest: 0, retransmittedSegments: 0 };

  private readonly now: () => number;
  private readonly timeouts: TcpTimeouts;
  private readonly parameters: NegotiatedParameters;
  private readonly receiver: TcpReceiver;
  private readonly sender: TcpSender;
  private readonly writer: SegmentWriter;
  private timeWaitUntil: number | undefined;
  private lastActivityAt: number;

  /**
   * Active open into the guest (published ports): sends our SYN from `localPort` (the gateway's
   * ephemeral port) to the guest's `remotePort` at once and retransmits it with backoff. The
   * guest's SYN-ACK establishes the connection and calls `onConnected`; a RST closes it as
   * `refused` and no answer as `handshake-timeout` (both after `onHostAbort`). Host data given
   * before then is queued and sent once established. A guest SYN for the tuple (a simultaneous
   * open) is not supported: it is answered with RST|ACK and the open fails as `refused`.
   */
  static connect(
    ports: TcpPorts,
    callbacks: GuestTcpCallbacks,
    options: GuestTcpConnectionOptions,
  ): GuestTcpConnection {
    return new GuestTcpConnection(new ActiveOpen(ports), callbacks, options);
  }

  /**
   * Creates the connection for a guest SYN (passive open); nothing is sent until `accept()` or
   * `refuse()`. An active open goes through `connect()`.
   */
  constructor(
    syn: TcpSegment | ActiveOpen,
    private readonly callbacks: GuestTcpCallbacks,
    options: GuestTcpConnectionOptions,
  ) {
    const active = syn instanceof ActiveOpen;
    if (!active && !isConnectionRequest(syn)) {
      throw new MsbError("a guest TCP connection must start with a SYN without ACK or RST");
    }
    this.now = options.now;
    this.timeouts = { ...DEFAULT_TCP_TIMEOUTS, ...options.timeouts };
    // An active open knows nothing of the guest until its SYN-ACK: zeros stand in for its initial
    // sequence number and window until `onSynAck` synchronizes the halves.
    const peerSyn = active ? { seq: 0, window: 0 } : syn;
    this.parameters = active ? offerParameters(options) : negotiateParameters(syn, options);
    this.receiver = new TcpReceiver(peerSyn.seq, this.parameters, this.stats, callbacks);
    const ports = active ? syn.ports : { localPort: syn.dstPort, remotePort: syn.srcPort };
    this.writer = new SegmentWriter(ports, this.parameters, this.receiver, callbacks);
    const initialSequence = (options.initialSequence ?? randomSequence()) >>> 0;
    this.sender = new TcpSender(peerSyn, initialSequence, this.parameters, this.timeouts, this.stats, {
      now: () => this.now(),
      canSend: () => SENDING_STATES.has(this.currentState),
      emit: (fields) => this.writer.emit(fields),
      onFinSent: () => this.onFinSent(),
      onFinAcked: () => this.onFinAcked(),
      onHostResume: () => this.callbacks.onHostResume(),
    });
    this.lastActivityAt = this.now();
    this.currentState = active ? "syn-sent" : "awaiting-accept";
    if (active) {
      this.writer.syn(initialSequence);
      this.armRetransmitTimer();
    }
  }

  get state(): TcpState {
    return this.currentState;
  }

  /** False while the send buffer is full: the engine keeps the host socket paused. */
  get wantsMoreFromHost(): boolean {
    return this.sender.wantsMoreFromHost;
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
    if (this.currentState === "closed" || this.sender.endOfStreamQueued) return false;
    this.lastActivityAt = this.now();
    this.sender.queue(bytes);
    this.sender.output();
    this.armRetransmitTimer();
    return this.sender.pauseHostIfFull();
  }

  /** The host socket reached EOF: send FIN after the queued data. */
  hostEnded(): void {
    if (this.currentState === "closed" || this.sender.endOfStreamQueued) return;
    this.sender.queueFin();
    this.sender.output();
    this.armRetransmitTimer();
  }

  /** The host socket drained after `onHostWrite` returned false: flush held data, reopen the window. */
  hostWritable(): void {
    if (this.currentState === "closed") return;
    this.receiver.hostWritable();
    if (RECEIVING_STATES.has(this.currentState) && this.receiver.windowUpdateDue()) this.sendAck();
  }

  /** The earliest time `tick()` has work to do, or undefined once closed. */
  nextTimerAt(): number | undefined {
    if (this.currentState === "closed") return undefined;
    if (this.timeWaitUntil !== undefined) return this.timeWaitUntil;
    const idleAt = this.lastActivityAt + this.timeouts.idleMs;
    const retransmitAt = this.sender.retransmitAt;
    return retransmitAt === undefined ? idleAt : Math.min(retransmitAt, idleAt);
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
    const retransmitAt = this.sender.retransmitAt;
    if (retransmitAt !== undefined && now >= retransmitAt) {
      this.sender.stopRetransmitTimer();
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
      case "syn-sent":
        this.lastActivityAt = this.now();
        this.handleSynSent(segment);
        return "handled";
      case "time-wait":
        // RFC 6191 / RFC 1122 §4.2.2.13: a SYN above the old sequence space may reuse the tuple.
        if (isConnectionRequest(segment) && seqGt(segment.seq, this.receiver.rcvNxt)) {
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
    if (hasFlag(segment, TcpFlag.rst) && segment.seq === this.receiver.rcvNxt) {
      this.callbacks.onHostAbort();
      this.close("reset-by-guest");
    }
  }

  /**
   * RFC 9293 §3.10.7.3 with RFC 5961 §3 (active open). Data on a SYN-ACK (TCP Fast Open only) is
   * not taken: it stays unacknowledged and the guest sends it again.
   */
  private handleSynSent(segment: TcpSegment): void {
    const isRst = hasFlag(segment, TcpFlag.rst);
    if (hasFlag(segment, TcpFlag.ack)) {
      if (!this.sender.isAcceptableHandshakeAck(segment.ack)) {
        // Not an answer to our SYN (an old duplicate): <SEQ=SEG.ACK><CTL=RST>, keep waiting.
        if (!isRst) this.writer.emit({ flags: TcpFlag.rst, seq: segment.ack });
        return;
      }
      if (isRst) {
        // The guest refused: nothing listens on the port.
        this.callbacks.onHostAbort();
        this.close("refused");
        return;
      }
      if (hasFlag(segment, TcpFlag.syn)) this.onSynAck(segment);
      return;
    }
    if (isRst || !hasFlag(segment, TcpFlag.syn)) return;
    // A bare SYN: the guest opened the same tuple towards us (simultaneous open). Supporting it
    // would only serve a guest that binds the published port as a client port; refuse it and fail
    // the open rather than merge two handshakes.
    const reset = resetForUnknownSegment(segment);
    if (reset !== undefined) this.callbacks.onSegment(reset);
    this.callbacks.onHostAbort();
    this.close("refused");
  }

  /** The guest's SYN-ACK acknowledged our SYN: take its parameters and go established. */
  private onSynAck(segment: TcpSegment): void {
    settleOffer(this.parameters, segment);
    this.receiver.synchronize(segment.seq);
    this.sender.takeSynAck(segment);
    this.currentState = "established";
    this.receiver.ackPending = true;
    this.callbacks.onConnected?.();
    // Host data queued meanwhile carries the ACK; otherwise a bare ACK completes the handshake.
    this.sender.output();
    this.armRetransmitTimer();
    if (this.receiver.ackPending) this.sendAck();
  }

  /** RFC 9293 §3.10.7.4, for SYN-RECEIVED and every later state. */
  private handleSynchronized(segment: TcpSegment): void {
    const isRst = hasFlag(segment, TcpFlag.rst);
    const isSyn = hasFlag(segment, TcpFlag.syn);

    if (
      this.currentState === "syn-received" &&
      isConnectionRequest(segment) &&
      segment.seq === this.receiver.initialSequence
    ) {
      // The guest did not get our SYN-ACK yet (or retransmitted early): send it again (§2.1).
      this.sendSynAck();
      return;
    }

    if (!this.receiver.isAcceptable(segment)) {
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
        segment.seq === this.receiver.rcvNxt &&
        this.currentState !== "syn-received"
      ) {
        this.processAck(segment);
        if (this.currentState === "closed") return;
        this.sender.output();
        this.armRetransmitTimer();
      }
      this.sendAck();
      return;
    }

    if (isRst) {
      // RFC 5961 §3: only an exact match resets; an in-window RST gets a challenge ACK, which a
      // real peer answers with an exact RST. TIME-WAIT ignores RSTs (RFC 1337).
      if (this.currentState === "time-wait") return;
      if (segment.seq === this.receiver.rcvNxt) {
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
      if (!this.sender.isAcceptableHandshakeAck(segment.ack)) {
        // RFC 9293: an unacceptable ACK in SYN-RECEIVED gets <SEQ=SEG.ACK><CTL=RST>.
        this.writer.emit({ flags: TcpFlag.rst, seq: segment.ack });
        return;
      }
      this.currentState = "established";
      this.sender.takeHandshakeWindow(segment);
    }

    if (!this.processAck(segment)) return;
    if (this.currentState === "closed") return;
    this.processPayloadAndFin(segment);
    this.sender.output();
    this.armRetransmitTimer();
    if (this.receiver.ackPending) this.sendAck();
  }

  /** Returns false when the segment was dropped and answered with an ACK. */
  private processAck(segment: TcpSegment): boolean {
    if (this.sender.processAck(segment)) return true;
    this.sendAck();
    return false;
  }

  private processPayloadAndFin(segment: TcpSegment): void {
    if (!RECEIVING_STATES.has(this.currentState)) return;
    if (!this.receiver.receive(segment)) return;
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
    this.receiver.signalHostEndWhenFlushed();
  }

  // ---------------------------------------------------------------------------------------------
  // State changes caused by our FIN

  private onFinSent(): void {
    if (this.currentState === "established") this.currentState = "fin-wait-1";
    else if (this.currentState === "close-wait") this.currentState = "last-ack";
  }

  private onFinAcked(): void {
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

  // ---------------------------------------------------------------------------------------------
  // Timers

  private onRetransmitTimer(): void {
    if (this.currentState === "syn-sent") {
      if (this.sender.rto.backoffCount >= this.timeouts.maxSynRetransmits) {
        this.failWithReset("handshake-timeout");
        return;
      }
      this.sender.rto.backOff();
      this.stats.retransmittedSegments++;
      this.writer.syn(this.sender.initialSequence);
      this.armRetransmitTimer();
      return;
    }
    if (this.currentState === "syn-received") {
      if (this.sender.rto.backoffCount >= this.timeouts.maxSynAckRetransmits) {
        this.failWithReset("handshake-timeout");
        return;
      }
      this.sender.rto.backOff();
      this.stats.retransmittedSegments++;
      this.sendSynAck();
      this.armRetransmitTimer();
      return;
    }
    if (!this.sender.retransmitOnTimeout()) {
      this.failWithReset("retransmit-limit");
      return;
    }
    this.armRetransmitTimer();
  }

  /**
   * Starts the one retransmission-type timer if something needs it and it is not running: the
   * SYN-ACK, data or FIN in flight (RFC 6298 §5.1), or queued data facing a zero window (persist).
   */
  private armRetransmitTimer(): void {
    const needed =
      this.currentState === "syn-sent" ||
      this.currentState === "syn-received" ||
      (SENDING_STATES.has(this.currentState) && this.sender.hasOutstandingWork());
    if (needed) this.sender.startRetransmitTimer();
    else this.sender.stopRetransmitTimer();
  }

  // ---------------------------------------------------------------------------------------------
  // Output helpers and teardown

  private sendSynAck(): void {
    this.writer.synAck(this.sender.initialSequence);
  }

  private sendAck(): void {
    this.writer.emit({ flags: TcpFlag.ack, seq: this.sender.nextSeq });
  }

  /**
   * RST towards the guest: before the handshake as a refusal, afterwards at SND.MAX. In SYN-SENT
   * there is nothing to acknowledge: a bare RST at ISS + 1 resets a guest whose SYN-ACK we missed.
   */
  private emitReset(): void {
    if (this.currentState === "awaiting-accept") {
      this.writer.emit({ flags: TcpFlag.rst | TcpFlag.ack, seq: 0 });
    } else if (this.currentState === "syn-sent") {
      this.writer.emit({ flags: TcpFlag.rst, seq: this.sender.maxSeq });
    } else {
      this.writer.emit({ flags: TcpFlag.rst | TcpFlag.ack, seq: this.sender.maxSeq });
    }
  }

  /** The guest side failed: reset it, destroy the host socket, and close. */
  private failWithReset(reason: TcpCloseReason): void {
    this.emitReset();
    this.callbacks.onHostAbort();
    this.close(reason);
  }

  private enterTimeWait(): void {
    this.currentState = "time-wait";
    this.sender.stopRetransmitTimer();
    this.timeWaitUntil = this.now() + this.timeouts.timeWaitMs;
  }

  private close(reason: TcpCloseReason): void {
    if (reason === "completed" || reason === "superseded") this.receiver.handOverHeldData();
    this.currentState = "closed";
    this.sender.stopRetransmitTimer();
    this.timeWaitUntil = undefined;
    this.callbacks.onClosed(reason);
  }
}
