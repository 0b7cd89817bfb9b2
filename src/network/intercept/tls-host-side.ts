// The host side of a guest connection to an intercepted port (network.md §4). The guest is
// accepted once the real destination answers; its ClientHello is read, then the connection is
// either spliced (a bypassed name, no SNI, not TLS: bytes pass untouched, the guest's only
// through the guard's plain filter) or terminated: the upstream TLS session is opened and
// verified first, and only then does the guest's handshake proceed, against a leaf minted for
// its SNI. Decrypted bytes go through the guard's request/response filters.
import net from "node:net";
import tls from "node:tls";
import type { TcpHostSide } from "../engine/tcp-host-side.ts";
import type { GuestTcpConnection } from "../tcp/connection.ts";
import type { TcpCloseReason } from "../tcp/types.ts";
import { MAX_CLIENT_HELLO, parseClientHello } from "../tls/client-hello.ts";
import type { LeafContexts } from "../tls/leaf-certificates.ts";
import type { FlowContext, FlowGuard, StreamFilter } from "./flow-filter.ts";
import { GuestStream } from "./guest-stream.ts";

/**
 * A client that rejects our leaf gives up without an alert Bun reports: the log line is written
 * when its connection closes before the handshake completed.
 */
const HANDSHAKE_FAILED =
  "guest TLS handshake failed (a client that does not trust the msb CA or pins certificates needs --tls-bypass)";

/** Offered to both ends, so the guard always sees HTTP/1.1. */
const ALPN = ["http/1.1"];

export interface TlsInterceptTarget {
  /** Where to connect: the guest's destination, or host loopback for the gateway. */
  hostname: string;
  context: FlowContext;
  connectTimeoutMs: number;
  onActivity: () => void;
}

export interface TlsInterceptDeps {
  isBypassed(serverName: string): boolean;
  leaves: LeafContexts;
  /** The host trust store plus the user's extra upstream CAs. */
  upstreamTrust: tls.SecureContext;
  guard: FlowGuard | null;
  log: (line: string) => void;
}

type Phase = "connecting" | "hello" | "upstream-handshake" | "splice" | "tls" | "done";

export class TlsInterceptSide implements TcpHostSide {
  private connection: GuestTcpConnection | undefined;
  private raw: net.Socket | undefined;
  private phase: Phase = "connecting";
  private hello: Uint8Array = new Uint8Array(0);
  /** Guest bytes toward the real destination in splice mode (null: passed as is). */
  private plainFilter: StreamFilter | null = null;
  private spliceBlocked = false;
  private upstream: tls.TLSSocket | undefined;
  private guestWire: GuestStream | undefined;
  private guestTls: tls.TLSSocket | undefined;
  /** The guest's FIN arrived before its TLS session was set up. */
  private guestEndedEarly = false;
  /** The guest completed its handshake with our leaf. */
  private guestSecure = false;

  constructor(
    private readonly target: TlsInterceptTarget,
    private readonly deps: TlsInterceptDeps,
  ) {}

  private get label(): string {
    const { dstIp, dstPort, sni } = this.target.context;
    return `tls ${dstIp}:${dstPort}${sni === undefined ? "" : ` (${sni})`}`;
  }

  start(connection: GuestTcpConnection): void {
    this.connection = connection;
    const { hostname, context, connectTimeoutMs } = this.target;
    const raw = net.connect({ host: hostname, port: context.dstPort, allowHalfOpen: true, noDelay: true });
    this.raw = raw;
    const connectTimer = setTimeout(() => this.refuse(), connectTimeoutMs);
    raw.once("connect", () =>
      this.event(() => {
        clearTimeout(connectTimer);
        this.phase = "hello";
        connection.accept();
      }),
    );
    raw.on("error", () => {
      clearTimeout(connectTimer);
      if (this.phase === "connecting") this.refuse();
    });
    // Later phases listen for themselves; before the hello nothing else would notice.
    raw.on("close", () => {
      if (this.phase === "hello")
        this.fail("the server closed the connection before the guest's ClientHello");
    });
  }

  write(bytes: Uint8Array): boolean {
    switch (this.phase) {
      case "hello":
        return this.readHello(bytes);
      case "upstream-handshake":
        this.hello = concat(this.hello, bytes);
        return false;
      case "splice":
        return this.spliceWrite(bytes);
      case "tls":
        return this.guestWire!.deliver(bytes);
      default:
        return false;
    }
  }

  end(): void {
    switch (this.phase) {
      case "hello":
        this.splice();
        this.spliceEnd();
        return;
      case "upstream-handshake":
        this.guestEndedEarly = true;
        return;
      case "splice":
        this.spliceEnd();
        return;
      case "tls":
        if (!this.guestSecure) this.fail(`${HANDSHAKE_FAILED}: the guest closed the connection`);
        else this.guestWire?.deliverEnd();
        return;
    }
  }

  abort(): void {
    if (this.phase === "tls" && !this.guestSecure)
      this.deps.log(`${this.label}: ${HANDSHAKE_FAILED}: the guest reset the connection`);
    this.destroy();
  }

  resume(): void {
    if (this.phase === "splice") this.raw?.resume();
    else this.guestWire?.sendBufferDrained();
  }

  closed(reason: TcpCloseReason): void {
    if (reason === "completed" || reason === "superseded") {
      this.phase = "done";
      this.guestTls?.destroy();
      (this.upstream ?? this.raw)?.end();
    } else this.destroy();
  }

  private event(action: () => void): void {
    if (this.phase === "done") return;
    action();
    this.target.onActivity();
  }

  private refuse(): void {
    if (this.phase !== "connecting") return;
    this.phase = "done";
    this.raw?.destroy();
    this.connection?.refuse();
    this.target.onActivity();
  }

  private destroy(): void {
    this.phase = "done";
    this.guestTls?.destroy();
    this.guestWire?.destroy();
    this.upstream?.destroy();
    this.raw?.destroy();
  }

  /** Cuts the guest's connection (RST) and the upstream; `why` goes to the engine log. */
  private fail(why: string): void {
    if (this.phase === "done") return;
    this.deps.log(`${this.label}: ${why}`);
    this.destroy();
    this.connection?.abort();
    this.target.onActivity();
  }

  private readHello(bytes: Uint8Array): boolean {
    this.hello = concat(this.hello, bytes);
    const result = parseClientHello(this.hello);
    if (result.kind === "incomplete" && this.hello.length < MAX_CLIENT_HELLO) return true;
    if (
      result.kind !== "hello" ||
      result.serverName === undefined ||
      this.deps.isBypassed(result.serverName)
    ) {
      if (result.kind === "hello" && result.serverName !== undefined)
        this.target.context.sni = result.serverName;
      return this.splice();
    }
    this.target.context.sni = result.serverName;
    this.interceptUpstream(result.serverName);
    return false;
  }

  // --- splice: bytes relayed untouched (the guest's through the plain filter) ---------------

  private splice(): boolean {
    const raw = this.raw!;
    const connection = this.connection!;
    this.phase = "splice";
    this.plainFilter = this.deps.guard?.forPlain(this.target.context) ?? null;
    raw.on("data", (chunk: Buffer) =>
      this.event(() => {
        if (!connection.sendFromHost(chunk)) raw.pause();
      }),
    );
    raw.on("drain", () =>
      this.event(() => {
        this.spliceBlocked = false;
        connection.hostWritable();
      }),
    );
    raw.on("end", () => this.event(() => connection.hostEnded()));
    raw.on("close", (hadError: boolean) =>
      this.event(() => (hadError ? connection.abort() : connection.hostEnded())),
    );
    const first = this.hello;
    this.hello = new Uint8Array(0);
    return this.spliceWrite(first);
  }

  private spliceWrite(bytes: Uint8Array): boolean {
    const out = this.plainFilter === null ? bytes : this.plainFilter.push(bytes);
    if (out === null) {
      this.fail("guest bytes blocked by the secret guard");
      return false;
    }
    if (out.length > 0 && !this.raw!.write(out)) this.spliceBlocked = true;
    return !this.spliceBlocked;
  }

  private spliceEnd(): void {
    if (this.phase !== "splice") return;
    const tail = this.plainFilter === null ? new Uint8Array(0) : this.plainFilter.end();
    if (tail === null) {
      this.fail("guest bytes blocked by the secret guard");
      return;
    }
    this.raw!.end(tail);
  }

  // --- termination: verified TLS upstream, then the guest's handshake against our leaf ------

  private interceptUpstream(serverName: string): void {
    this.phase = "upstream-handshake";
    const upstream = tls.connect({
      socket: this.raw!,
      servername: serverName,
      ALPNProtocols: ALPN,
      secureContext: this.deps.upstreamTrust,
      rejectUnauthorized: true,
    });
    this.upstream = upstream;
    upstream.once("secureConnect", () => this.event(() => this.interceptGuest(serverName)));
    upstream.on("error", (error: Error) =>
      this.fail(
        this.phase === "upstream-handshake"
          ? `upstream certificate or handshake rejected: ${error.message}`
          : `upstream error: ${error.message}`,
      ),
    );
  }

  private interceptGuest(serverName: string): void {
    const connection = this.connection!;
    const upstream = this.upstream!;
    const filters = this.deps.guard?.forTls(this.target.context) ?? null;
    const guestWire = new GuestStream(connection, this.target.onActivity);
    const guestTls = new tls.TLSSocket(guestWire, {
      isServer: true,
      secureContext: this.deps.leaves.contextFor(serverName),
      ALPNProtocols: ALPN,
    });
    this.guestWire = guestWire;
    this.guestTls = guestTls;
    this.phase = "tls";
    pump(guestTls, upstream, filters?.request ?? null, (why) => this.fail(why), this.target.onActivity);
    pump(upstream, guestTls, filters?.response ?? null, (why) => this.fail(why), this.target.onActivity);
    guestTls.once("secure", () => {
      this.guestSecure = true;
    });
    guestTls.on("error", (error: Error) =>
      this.fail(
        this.guestSecure ? `guest TLS error: ${error.message}` : `${HANDSHAKE_FAILED}: ${error.message}`,
      ),
    );
    const first = this.hello;
    this.hello = new Uint8Array(0);
    const more = guestWire.deliver(first);
    if (this.guestEndedEarly) guestWire.deliverEnd();
    else if (more) connection.hostWritable();
  }
}

/** Decrypted bytes from `from` to `to` through `filter`, pausing `from` while `to` is full. */
function pump(
  from: tls.TLSSocket,
  to: tls.TLSSocket,
  filter: StreamFilter | null,
  fail: (why: string) => void,
  onActivity: () => void,
): void {
  from.on("data", (chunk: Buffer) => {
    const out = filter === null ? chunk : filter.push(chunk);
    if (out === null) fail("stream cut by the secret guard");
    else if (out.length > 0 && !to.write(out)) from.pause();
    onActivity();
  });
  to.on("drain", () => from.resume());
  from.on("end", () => {
    const tail = filter === null ? new Uint8Array(0) : filter.end();
    if (tail === null) fail("stream cut by the secret guard");
    else to.end(tail);
    onActivity();
  });
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b.slice();
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
