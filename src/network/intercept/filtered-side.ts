// A host side whose guest → host bytes pass through a StreamFilter first: plain TCP relays on
// non-intercepted ports when a secret guard is present, so a placeholder sent in clear text to any
// host is caught (and the connection cut) before it leaves.
import type { TcpHostSide } from "../engine/tcp-host-side.ts";
import type { GuestTcpConnection } from "../tcp/connection.ts";
import type { TcpCloseReason } from "../tcp/types.ts";
import type { StreamFilter } from "./flow-filter.ts";

export class FilteredSide implements TcpHostSide {
  private connection: GuestTcpConnection | undefined;
  private cut = false;

  constructor(
    private readonly inner: TcpHostSide,
    private readonly filter: StreamFilter,
  ) {}

  start(connection: GuestTcpConnection): void {
    this.connection = connection;
    this.inner.start(connection);
  }

  write(bytes: Uint8Array): boolean {
    if (this.cut) return false;
    const out = this.filter.push(bytes);
    if (out === null) return this.cutConnection();
    return out.length === 0 || this.inner.write(out);
  }

  end(): void {
    if (this.cut) return;
    const tail = this.filter.end();
    if (tail === null) {
      this.cutConnection();
      return;
    }
    if (tail.length > 0) this.inner.write(tail);
    this.inner.end();
  }

  abort(): void {
    this.inner.abort();
  }

  resume(): void {
    this.inner.resume();
  }

  closed(reason: TcpCloseReason): void {
    this.inner.closed(reason);
  }

  /** The guard refused the bytes (it has reported why): reset the guest and drop the host socket. */
  private cutConnection(): false {
    this.cut = true;
    this.inner.abort();
    this.connection?.abort();
    return false;
  }
}
