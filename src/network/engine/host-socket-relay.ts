// The host end of a relayed guest TCP connection: a Bun TCP socket to the real destination.
// Connect-before-SYN-ACK (network.md §2.1): the guest is answered only once the socket opens, and
// refused (RST, so ECONNREFUSED) when the connect fails or times out. Bytes the socket does not
// take are kept here and written on drain; host data pauses the socket while the guest's
// connection buffer is full.
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

export class HostSocketRelay implements TcpHostSide {
  private socket: Socket | undefined;
  private connection: GuestTcpConnection | undefined;
  /** Guest bytes the socket has not taken yet, in order. */
  private readonly unwritten: Uint8Array[] = [];
  /** How to finish the socket once `unwritten` is empty: half-close (guest FIN) or close. */
  private finishWhenDrained: "shutdown" | "end" | undefined;
  /** The guest connection is closed: socket events no longer matter. */
  private finished = false;

  constructor(private readonly target: HostSocketTarget) {}

  start(connection: GuestTcpConnection): void {
    this.connection = connection;
    const { hostname, port, connectTimeoutMs, onActivity } = this.target;
    const connectTimer = setTimeout(() => this.refuse(), connectTimeoutMs);
    const event = (action: () => void) => {
      if (this.finished) return;
      action();
      onActivity();
    };
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
          event(() => connection.accept());
        },
        data: (socket, chunk) =>
          event(() => {
            if (!connection.sendFromHost(chunk)) socket.pause();
          }),
        // Not gated on `finished`: after a graceful close the last guest bytes still go out here.
        drain: () => {
          this.flush();
          onActivity();
        },
        end: () => event(() => connection.hostEnded()),
        close: (_socket, error) => event(() => (error ? connection.abort() : connection.hostEnded())),
        error: () => event(() => connection.abort()),
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

  private refuse(): void {
    if (this.socket !== undefined || this.finished) return;
    this.connection?.refuse();
    this.target.onActivity();
  }

  private flush(): void {
    const socket = this.socket!;
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
