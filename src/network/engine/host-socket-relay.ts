// The host end of a guest TCP connection on a real socket: an outgoing one the guest asked for
// (HostSocketRelay, Bun.connect) or one a client opened on a published port (PublishedSocket,
// Bun.listen). Both share SocketSide's buffering, backpressure and half-close.
import type { Socket } from "bun";
import type { GuestTcpConnection } from "../tcp/connection.ts";
import type { TcpCloseReason } from "../tcp/types.ts";
import type { TcpHostSide } from "./tcp-host-side.ts";

export interface HostSocketTarget {
  hostname: string;
  port: number;
  connectTimeoutMs: number;
  /** Called after every socket event, so the engine can re-arm its connection timer. */
  onActivity: () => void;
}

/**
 * A guest connection's host end on a Bun TCP socket, whichever side opened it: bytes the socket
 * does not take are kept and written on drain, host data pauses the socket while the guest's
 * connection buffer is full, and the guest's FIN becomes a half-close.
 */
export class SocketSide implements TcpHostSide {
  protected socket: Socket<unknown> | undefined;
  protected connection: GuestTcpConnection | undefined;
  /** Guest bytes the socket has not taken yet, in order. */
  private readonly unwritten: Uint8Array[] = [];
  /** How to finish the socket once `unwritten` is empty: half-close (guest FIN) or close. */
  private finishWhenDrained: "shutdown" | "end" | undefined;
  /** The guest connection is closed: socket events no longer matter. */
  protected finished = false;

  constructor(protected readonly onActivity: () => void) {}

  start(connection: GuestTcpConnection): void {
    this.connection = connection;
  }

  /** The socket handlers' work, shared by outgoing (Bun.connect) and published (Bun.listen) sockets. */
  readonly events = {
    data: (chunk: Uint8Array) =>
      this.event(() => {
        if (!this.connection?.sendFromHost(chunk)) this.socket?.pause();
      }),
    // Not gated on `finished`: after a graceful close the last guest bytes still go out here.
    drain: () => {
      this.flush();
      this.onActivity();
    },
    end: () => this.event(() => this.connection?.hostEnded()),
    close: (error?: Error) =>
      this.event(() => (error ? this.connection?.abort() : this.connection?.hostEnded())),
    error: () => this.event(() => this.connection?.abort()),
  };

  protected event(action: () => void): void {
    if (this.finished) return;
    action();
    this.onActivity();
  }

  write(bytes: Uint8Array): boolean {
    if (this.socket === undefined) return false;
    if (this.unwritten.length > 0) {
      this.unwritten.push(bytes.slice());
      return false;
    }
    const written = Math.max(0, this.socket.write(bytes));
    if (written === bytes.length) return true;
    this.unwritten.push(bytes.slice(written));
    return false;
  }

  /** Bun's end() closes both directions even with allowHalfOpen; shutdown() sends only our FIN. */
  end(): void {
    this.finishWrites("shutdown");
  }

  abort(): void {
    this.finished = true;
    this.socket?.terminate();
  }

  resume(): void {
    this.socket?.resume();
  }

  closed(reason: TcpCloseReason): void {
    this.finished = true;
    if (reason === "completed" || reason === "superseded") this.finishWrites("end");
    else this.socket?.terminate();
  }

  private finishWrites(how: "shutdown" | "end"): void {
    if (this.unwritten.length > 0) this.finishWhenDrained = how;
    else if (how === "shutdown") this.socket?.shutdown();
    else this.socket?.end();
  }

  private flush(): void {
    const socket = this.socket;
    if (socket === undefined) return;
    while (this.unwritten.length > 0) {
      const chunk = this.unwritten[0]!;
      const written = Math.max(0, socket.write(chunk));
      if (written < chunk.length) {
        this.unwritten[0] = chunk.subarray(written);
        return;
      }
      this.unwritten.shift();
    }
    if (this.finishWhenDrained !== undefined) this.finishWrites(this.finishWhenDrained);
    else if (!this.finished) this.connection?.hostWritable();
  }
}

/**
 * Connect-before-SYN-ACK (network.md §2.1): the guest is answered only once the socket to the
 * real destination opens, and refused (RST, so ECONNREFUSED) when the connect fails or times out.
 */
export class HostSocketRelay extends SocketSide {
  constructor(private readonly target: HostSocketTarget) {
    super(target.onActivity);
  }

  override start(connection: GuestTcpConnection): void {
    super.start(connection);
    const { hostname, port, connectTimeoutMs } = this.target;
    const connectTimer = setTimeout(() => this.refuse(), connectTimeoutMs);
    Bun.connect({
      hostname,
      port,
      allowHalfOpen: true,
      socket: {
        open: (socket) => {
          clearTimeout(connectTimer);
          if (this.finished) {
            socket.terminate();
            return;
          }
          this.socket = socket;
          socket.setNoDelay(true);
          this.event(() => connection.accept());
        },
        data: (_socket, chunk) => this.events.data(chunk),
        drain: () => this.events.drain(),
        end: () => this.events.end(),
        close: (_socket, error) => this.events.close(error),
        error: () => this.events.error(),
        connectError: () => {
          clearTimeout(connectTimer);
          this.refuse();
        },
      },
    }).catch(() => {
      clearTimeout(connectTimer);
      this.refuse();
    });
  }

  private refuse(): void {
    if (this.socket !== undefined || this.finished) return;
    this.connection?.refuse();
    this.onActivity();
  }
}
