// Published ports (`-p [ADDR:]HOST:GUEST[/tcp|/udp]`): host listeners bound before the sandbox
// boots, whose clients reach the guest's port from the gateway address. TCP connections are
// opened into the guest by the engine (an active open); UDP clients each get a gateway port,
// and the guest's replies to it go back to that client.
import type { Socket, udp } from "bun";
import { MsbError } from "../../errors.ts";
import type { PublishedPort } from "../../sandbox/spec.ts";
import type { GuestTcpConnection } from "../tcp/connection.ts";
import { SocketSide } from "./host-socket-relay.ts";

export type { PublishedPort } from "../../sandbox/spec.ts";

export interface PortPublisher {
  /** Opens a connection from the gateway into the guest's `guestPort` for a host client. */
  openInbound(guestPort: number, side: SocketSide): GuestTcpConnection | undefined;
  /** A gateway port for a host UDP client; `deliver` gets the guest's replies to it. */
  udpPortFor(client: string, deliver: (payload: Uint8Array) => void): number;
  sendUdpToGuest(gatewayPort: number, guestPort: number, payload: Uint8Array): void;
  onActivity(): void;
}

export interface Publication {
  stop(): void;
}

/** A client's socket on a published TCP port, already open when its guest connection starts. */
class PublishedSocket extends SocketSide {
  constructor(socket: Socket<unknown>, onActivity: () => void) {
    super(onActivity);
    this.socket = socket;
  }
}

/** Binds the port now, so a port in use fails the sandbox's start before it boots. */
export async function publishPort(port: PublishedPort, publisher: PortPublisher): Promise<Publication> {
  try {
    return port.protocol === "tcp" ? publishTcp(port, publisher) : await publishUdp(port, publisher);
  } catch (error) {
    throw new MsbError(`cannot publish ${describePort(port)}: ${(error as Error).message}`, {
      code: "conflict",
      cause: error,
      hint: `host port ${port.hostPort} is probably in use; choose another with -p`,
    });
  }
}

export function describePort(port: PublishedPort): string {
  return `${port.bindAddress}:${port.hostPort}->${port.guestPort}/${port.protocol}`;
}

function publishTcp(port: PublishedPort, publisher: PortPublisher): Publication {
  const listener = Bun.listen<PublishedSocket | undefined>({
    hostname: port.bindAddress,
    port: port.hostPort,
    socket: {
      open(socket) {
        const side = new PublishedSocket(socket as Socket<unknown>, () => publisher.onActivity());
        socket.data = side;
        if (publisher.openInbound(port.guestPort, side) === undefined) socket.terminate();
      },
      data: (socket, chunk) => socket.data?.events.data(chunk),
      drain: (socket) => socket.data?.events.drain(),
      end: (socket) => socket.data?.events.end(),
      close: (socket, error) => socket.data?.events.close(error),
      error: (socket) => socket.data?.events.error(),
    },
  });
  return { stop: () => listener.stop(true) };
}

async function publishUdp(port: PublishedPort, publisher: PortPublisher): Promise<Publication> {
  let socket: udp.Socket<"uint8array"> | undefined;
  socket = await Bun.udpSocket({
    hostname: port.bindAddress,
    port: port.hostPort,
    binaryType: "uint8array",
    socket: {
      data(_socket, payload, clientPort, clientAddress) {
        const client = `${clientAddress}:${clientPort}`;
        const gatewayPort = publisher.udpPortFor(client, (reply) =>
          socket?.send(reply, clientPort, clientAddress),
        );
        publisher.sendUdpToGuest(gatewayPort, port.guestPort, payload);
      },
    },
  });
  return { stop: () => socket?.close() };
}
