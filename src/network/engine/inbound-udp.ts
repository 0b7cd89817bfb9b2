// UDP clients of published ports: each host client (address:port) gets its own gateway port, so
// the guest's replies to that port can be handed back to the right client. Clients idle for a
// while are forgotten, and the table is bounded.

const FIRST_PORT = 32_768;
const PORT_COUNT = 49_152 - FIRST_PORT;
const MAX_CLIENTS = 1024;

interface InboundClient {
  port: number;
  deliver: (payload: Uint8Array) => void;
}

export class InboundUdpClients {
  private readonly byClient = new Map<string, InboundClient>();
  private readonly byPort = new Map<number, InboundClient>();
  private nextPort = 0;

  /** The gateway port for `client`; its replies will be given to `deliver`. */
  portFor(client: string, deliver: (payload: Uint8Array) => void): number {
    const known = this.byClient.get(client);
    if (known !== undefined) {
      // Refresh its place: Map order is least recently used first.
      this.byClient.delete(client);
      this.byClient.set(client, known);
      return known.port;
    }
    if (this.byClient.size >= MAX_CLIENTS) this.forgetOldest();
    let port = FIRST_PORT;
    for (let tries = 0; tries < PORT_COUNT; tries++) {
      port = FIRST_PORT + (this.nextPort++ % PORT_COUNT);
      if (!this.byPort.has(port)) break;
    }
    const entry = { port, deliver };
    this.byClient.set(client, entry);
    this.byPort.set(port, entry);
    return port;
  }

  /** Hands a guest datagram to the client behind `port`; false when no client has that port. */
  deliver(port: number, payload: Uint8Array): boolean {
    const client = this.byPort.get(port);
    if (client === undefined) return false;
    client.deliver(payload.slice());
    return true;
  }

  private forgetOldest(): void {
    const [oldest] = this.byClient;
    if (oldest === undefined) return;
    this.byClient.delete(oldest[0]);
    this.byPort.delete(oldest[1].port);
  }
}
