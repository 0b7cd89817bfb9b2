// Reads the server name (SNI) and offered ALPN protocols from the first bytes a TLS client sends,
// before any TLS is set up, so the interceptor can choose a certificate or splice the connection
// untouched. The ClientHello may be split across TCP segments and across TLS records.
import { isValidDomain, normalizeDomain } from "../domain-name.ts";

export type ClientHelloResult =
  /** More bytes are needed. */
  | { kind: "incomplete" }
  /** Not a TLS ClientHello (or larger than we read): the connection is relayed as is. */
  | { kind: "not-tls"; reason: string }
  | { kind: "hello"; serverName: string | undefined; alpn: string[] };

const RECORD_HEADER = 5;
const HANDSHAKE_HEADER = 4;
const CONTENT_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const MAX_RECORD = 16_384;
/** Post-quantum key shares make hellos of a few KiB; anything near this is not a real client. */
export const MAX_CLIENT_HELLO = 64 * 1024;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const MAX_DOMAIN_LENGTH = 253;

/** Parses the ClientHello at the start of `bytes`, all the guest sent so far. */
export function parseClientHello(bytes: Uint8Array): ClientHelloResult {
  const handshake: Uint8Array[] = [];
  let collected = 0;
  let needed: number | undefined;
  for (let offset = 0; ; ) {
    if (bytes.length < offset + RECORD_HEADER) return { kind: "incomplete" };
    if (bytes[offset] !== CONTENT_HANDSHAKE) return notTls("not a TLS handshake record");
    if (bytes[offset + 1] !== 3) return notTls("unknown TLS record version");
    const length = (bytes[offset + 3]! << 8) | bytes[offset + 4]!;
    if (length === 0 || length > MAX_RECORD) return notTls("bad TLS record length");
    const fragment = bytes.subarray(offset + RECORD_HEADER, offset + RECORD_HEADER + length);
    handshake.push(fragment);
    collected += fragment.length;
    if (needed === undefined && collected >= HANDSHAKE_HEADER) {
      const head = join(handshake, HANDSHAKE_HEADER);
      if (head[0] !== HANDSHAKE_CLIENT_HELLO) return notTls("first handshake message is not a ClientHello");
      needed = HANDSHAKE_HEADER + ((head[1]! << 16) | (head[2]! << 8) | head[3]!);
      if (needed > MAX_CLIENT_HELLO) return notTls("ClientHello too large");
    }
    if (needed !== undefined && collected >= needed) {
      return parseBody(join(handshake, needed).subarray(HANDSHAKE_HEADER));
    }
    if (fragment.length < length) return { kind: "incomplete" };
    offset += RECORD_HEADER + length;
  }
}

function join(parts: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    if (offset >= length) break;
    const take = part.subarray(0, length - offset);
    out.set(take, offset);
    offset += take.length;
  }
  return out;
}

function notTls(reason: string): ClientHelloResult {
  return { kind: "not-tls", reason };
}

/** A bounds-checked cursor: any read past the end throws, which the caller turns into not-tls. */
class Reader {
  offset = 0;
  constructor(private readonly bytes: Uint8Array) {}

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  take(length: number): Uint8Array {
    if (length > this.remaining) throw new RangeError("ClientHello field overruns its message");
    const out = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  u8(): number {
    return this.take(1)[0]!;
  }

  u16(): number {
    const [high, low] = this.take(2);
    return (high! << 8) | low!;
  }

  vector8(): Uint8Array {
    return this.take(this.u8());
  }

  vector16(): Uint8Array {
    return this.take(this.u16());
  }
}

function parseBody(body: Uint8Array): ClientHelloResult {
  try {
    const reader = new Reader(body);
    reader.take(2 + 32); // legacy_version, random
    reader.vector8(); // legacy_session_id
    reader.vector16(); // cipher_suites
    reader.vector8(); // legacy_compression_methods
    let serverName: string | undefined;
    let alpn: string[] = [];
    if (reader.remaining === 0) return { kind: "hello", serverName, alpn };
    const extensions = new Reader(reader.vector16());
    while (extensions.remaining > 0) {
      const type = extensions.u16();
      const data = extensions.vector16();
      if (type === EXT_SERVER_NAME) serverName = hostName(data);
      else if (type === EXT_ALPN) alpn = protocols(data);
    }
    return { kind: "hello", serverName, alpn };
  } catch (error) {
    return notTls((error as Error).message);
  }
}

/** The host_name entry of a server_name extension, normalised; undefined when absent or not a valid name. */
function hostName(data: Uint8Array): string | undefined {
  const list = new Reader(new Reader(data).vector16());
  while (list.remaining > 0) {
    const type = list.u8();
    const name = list.vector16();
    if (type !== 0) continue;
    if (name.length > MAX_DOMAIN_LENGTH) return undefined;
    const text = normalizeDomain(String.fromCharCode(...name));
    return isValidDomain(text) ? text : undefined;
  }
  return undefined;
}

function protocols(data: Uint8Array): string[] {
  const list = new Reader(new Reader(data).vector16());
  const names: string[] = [];
  while (list.remaining > 0) names.push(new TextDecoder().decode(list.vector8()));
  return names;
}
