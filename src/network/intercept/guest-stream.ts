// A guest TCP connection as a Node Duplex carrying TLS records, so node:tls can run the server
// side of the guest's TLS over it. Flow control is the engine's: guest bytes are pushed until the
// readable side is full (the connection then holds the rest), and writes toward the guest complete
// only while the connection's send buffer has room.
import { Duplex } from "node:stream";
import type { GuestTcpConnection } from "../tcp/connection.ts";

export class GuestStream extends Duplex {
  /** The connection was told "not all taken" and waits for hostWritable(). */
  private guestBlocked = false;
  /** A write held until the connection's send buffer drains. */
  private pendingWrite: (() => void) | undefined;

  /** `onActivity` re-arms the engine's connection timer after bytes are queued for the guest. */
  constructor(
    private readonly connection: GuestTcpConnection,
    private readonly onActivity: () => void,
  ) {
    super({ allowHalfOpen: true });
  }

  /** Guest bytes in; false when the engine should hold further bytes until we read again. */
  deliver(bytes: Uint8Array): boolean {
    if (this.push(Buffer.from(bytes))) return true;
    this.guestBlocked = true;
    return false;
  }

  /** The guest's FIN. */
  deliverEnd(): void {
    this.push(null);
  }

  /** The connection's send buffer drained. */
  sendBufferDrained(): void {
    const pending = this.pendingWrite;
    this.pendingWrite = undefined;
    pending?.();
  }

  override _read(): void {
    if (!this.guestBlocked) return;
    this.guestBlocked = false;
    this.connection.hostWritable();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const more = this.connection.sendFromHost(chunk);
    this.onActivity();
    if (more) callback();
    else this.pendingWrite = () => callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.connection.hostEnded();
    this.onActivity();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.pendingWrite = undefined;
    callback(error);
  }
}
