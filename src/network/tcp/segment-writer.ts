// Builds the segments a guest TCP connection sends: fills in the ports, and the acknowledgment and
// window from the receive side, so every segment we send carries our latest ACK and window.
import type { NegotiatedParameters } from "./negotiated-parameters.ts";
import { TcpFlag, type TcpOptions } from "./segment.ts";
import type { TcpReceiver } from "./tcp-receiver.ts";
import type { GuestTcpCallbacks, TcpPorts } from "./types.ts";

const EMPTY = new Uint8Array(0);

/** The fields that differ between the segments we send; `window` defaults to the receive window. */
export interface OutgoingSegmentFields {
  flags: number;
  seq: number;
  window?: number;
  options?: TcpOptions;
  payload?: Uint8Array;
}

export class SegmentWriter {
  constructor(
    private readonly ports: TcpPorts,
    private readonly parameters: NegotiatedParameters,
    private readonly receiver: TcpReceiver,
    private readonly callbacks: GuestTcpCallbacks,
  ) {}

  emit(fields: OutgoingSegmentFields): void {
    const carriesAck = (fields.flags & TcpFlag.ack) !== 0;
    const isRst = (fields.flags & TcpFlag.rst) !== 0;
    let window = fields.window;
    if (window === undefined) window = isRst ? 0 : this.receiver.windowField();
    if (carriesAck) this.receiver.ackPending = false;
    this.callbacks.onSegment({
      srcPort: this.ports.localPort,
      dstPort: this.ports.remotePort,
      seq: fields.seq >>> 0,
      ack: carriesAck ? this.receiver.rcvNxt : 0,
      flags: fields.flags,
      window,
      options: fields.options ?? {},
      payload: fields.payload ?? EMPTY,
    });
  }

  synAck(initialSequence: number): void {
    // WS only if the guest offered it (network.md §2.7 bug 2); no SACK-permitted and no
    // timestamps (§2).
    this.emitSyn(TcpFlag.syn | TcpFlag.ack, initialSequence);
  }

  /**
   * Active open: our SYN, with our MSS and WS always offered (it applies only if the guest's
   * SYN-ACK offers it too); no SACK-permitted and no timestamps, as in the SYN-ACK.
   */
  syn(initialSequence: number): void {
    this.emitSyn(TcpFlag.syn, initialSequence);
  }

  private emitSyn(flags: number, initialSequence: number): void {
    const window = this.receiver.synWindow();
    const options: TcpOptions = { mss: this.parameters.localMss };
    if (this.parameters.offerWindowScale) options.wscale = this.parameters.receiveScale;
    this.emit({ flags, seq: initialSequence, window, options });
  }
}
