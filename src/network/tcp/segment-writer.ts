// Builds the segments a guest TCP connection sends: fills in the ports, and the acknowledgment and
// window from the receive side, so every segment we send carries our latest ACK and window.
import type { NegotiatedParameters } from "./negotiated-parameters.ts";
import { TcpFlag, type TcpOptions, type TcpSegment } from "./segment.ts";
import type { TcpReceiver } from "./tcp-receiver.ts";
import type { GuestTcpCallbacks } from "./types.ts";

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
  /** Our port (the guest's destination) and the guest's port. */
  private readonly localPort: number;
  private readonly remotePort: number;

  constructor(
    syn: TcpSegment,
    private readonly parameters: NegotiatedParameters,
    private readonly receiver: TcpReceiver,
    private readonly callbacks: GuestTcpCallbacks,
  ) {
    this.localPort = syn.dstPort;
    this.remotePort = syn.srcPort;
  }

  emit(fields: OutgoingSegmentFields): void {
    const carriesAck = (fields.flags & TcpFlag.ack) !== 0;
    const isRst = (fields.flags & TcpFlag.rst) !== 0;
    let window = fields.window;
    if (window === undefined) window = isRst ? 0 : this.receiver.windowField();
    if (carriesAck) this.receiver.ackPending = false;
    this.callbacks.onSegment({
      srcPort: this.localPort,
      dstPort: this.remotePort,
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
    const window = this.receiver.synAckWindow();
    const options: TcpOptions = { mss: this.parameters.localMss };
    if (this.parameters.offerWindowScale) options.wscale = this.parameters.receiveScale;
    this.emit({ flags: TcpFlag.syn | TcpFlag.ack, seq: initialSequence, window, options });
  }
}
