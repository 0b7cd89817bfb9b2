// What stands behind a guest TCP connection on the host: a real socket (HostSocketRelay) or the
// engine's own DNS server (DnsTcpSession). The connection's callbacks are forwarded to it, so a
// flow is built as: host side, then connection with `callbacksFor(side)`, then `side.start()`.
import type { GuestTcpConnection } from "../tcp/connection.ts";
import type { TcpSegment } from "../tcp/segment.ts";
import type { GuestTcpCallbacks, TcpCloseReason } from "../tcp/types.ts";

export interface TcpHostSide {
  /** Begins connecting; calls connection.accept() or connection.refuse() when it knows. */
  start(connection: GuestTcpConnection): void;
  /** Guest bytes for the host; false when not all were taken (the rest is kept here). */
  write(bytes: Uint8Array): boolean;
  /** The guest half-closed: end the host side once its pending bytes are out. */
  end(): void;
  /** The guest side is gone: destroy the host side. */
  abort(): void;
  /** The connection's send buffer drained: read from the host again. */
  resume(): void;
  /** The connection is finished; see GuestTcpCallbacks.onClosed for what `reason` implies. */
  closed(reason: TcpCloseReason): void;
}

export function callbacksFor(
  side: TcpHostSide,
  onSegment: (segment: TcpSegment) => void,
  onClosed: (reason: TcpCloseReason) => void,
): GuestTcpCallbacks {
  return {
    onSegment,
    onHostWrite: (bytes) => side.write(bytes),
    onHostEnd: () => side.end(),
    onHostAbort: () => side.abort(),
    onHostResume: () => side.resume(),
    onClosed: (reason) => {
      side.closed(reason);
      onClosed(reason);
    },
  };
}
