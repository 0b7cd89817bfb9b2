// DNS over TCP (port 53, any destination) answered by the engine's own DNS server: the guest's
// byte stream is split into 2-byte-length-prefixed queries, each answer is framed the same way
// and sent back on the connection. The guest's FIN is answered with ours once every query it
// sent has been answered.
import type { DnsServer } from "../dns/dns-server.ts";
import { frameTcpDnsMessage, TcpDnsReader } from "../dns/tcp-dns-framing.ts";
import type { GuestTcpConnection } from "../tcp/connection.ts";
import type { TcpHostSide } from "./tcp-host-side.ts";

export class DnsTcpSession implements TcpHostSide {
  private connection: GuestTcpConnection | undefined;
  private readonly reader = new TcpDnsReader();
  private unansweredQueries = 0;
  private guestEnded = false;
  private finished = false;

  constructor(
    private readonly dns: DnsServer,
    /** Called after answers reach the connection, so the engine can re-arm its timer. */
    private readonly onActivity: () => void,
  ) {}

  start(connection: GuestTcpConnection): void {
    this.connection = connection;
    connection.accept();
  }

  write(bytes: Uint8Array): boolean {
    for (const query of this.reader.push(bytes)) {
      this.unansweredQueries++;
      this.dns
        .handleQuery(query, "tcp")
        .catch(() => null)
        .then((response) => {
          this.unansweredQueries--;
          if (this.finished) return;
          if (response !== null) this.connection!.sendFromHost(frameTcpDnsMessage(response));
          this.endIfDone();
          this.onActivity();
        });
    }
    return true;
  }

  end(): void {
    this.guestEnded = true;
    // Called from inside the connection's callback: it must not be re-entered synchronously.
    queueMicrotask(() => {
      if (this.finished) return;
      this.endIfDone();
      this.onActivity();
    });
  }

  abort(): void {
    this.finished = true;
  }

  resume(): void {
    // Answers are small and few; nothing is paused.
  }

  closed(): void {
    this.finished = true;
  }

  private endIfDone(): void {
    if (this.guestEnded && this.unansweredQueries === 0) this.connection!.hostEnded();
  }
}
