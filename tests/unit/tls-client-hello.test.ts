// The ClientHello reader: SNI and ALPN from hand-built hellos (split across segments and across
// TLS records, without SNI, with names that are not host names, truncated and garbage input) and
// from a real node:tls client's first flight.
import { describe, expect, test } from "bun:test";
import { Duplex } from "node:stream";
import tls from "node:tls";
import { parseClientHello } from "../../src/network/tls/client-hello.ts";

const u16 = (value: number) => [(value >> 8) & 0xff, value & 0xff];
const vector16 = (bytes: number[]) => [...u16(bytes.length), ...bytes];
const ascii = (text: string) => [...Buffer.from(text, "latin1")];

function extension(type: number, data: number[]): number[] {
  return [...u16(type), ...vector16(data)];
}

function sniExtension(name: string, nameType = 0): number[] {
  return extension(0, vector16([nameType, ...vector16(ascii(name))]));
}

function alpnExtension(protocols: string[]): number[] {
  return extension(16, vector16(protocols.flatMap((protocol) => [protocol.length, ...ascii(protocol)])));
}

/** A ClientHello handshake message (header included) with these extensions. */
function handshake(extensions: number[][] | undefined, type = 1): number[] {
  const body = [
    3,
    3,
    ...new Array(32).fill(0xab),
    0, // session id
    ...vector16([0x13, 0x01, 0x13, 0x02]),
    1,
    0, // compression: null
    ...(extensions === undefined ? [] : vector16(extensions.flat())),
  ];
  return [type, 0, ...u16(body.length), ...body];
}

/** The handshake message in TLS records of at most `recordSize` bytes each. */
function records(message: number[], recordSize = 16_384): Uint8Array {
  const out: number[] = [];
  for (let offset = 0; offset < message.length; offset += recordSize) {
    const fragment = message.slice(offset, offset + recordSize);
    out.push(22, 3, 1, ...u16(fragment.length), ...fragment);
  }
  return Uint8Array.from(out);
}

describe("parseClientHello", () => {
  const full = records(handshake([sniExtension("API.Example.com."), alpnExtension(["h2", "http/1.1"])]));

  test("reads SNI (normalised) and ALPN", () => {
    expect(parseClientHello(full)).toEqual({
      kind: "hello",
      serverName: "api.example.com",
      alpn: ["h2", "http/1.1"],
    });
  });

  test("every strict prefix is incomplete: a hello split across segments waits for the rest", () => {
    for (let length = 0; length < full.length; length++) {
      expect(parseClientHello(full.subarray(0, length))).toEqual({ kind: "incomplete" });
    }
  });

  test("bytes after the hello (the next flight) do not matter", () => {
    const more = Uint8Array.from([...full, 20, 3, 3, 0, 1, 1]);
    expect(parseClientHello(more)).toMatchObject({ kind: "hello", serverName: "api.example.com" });
  });

  test.each([1, 7, 50])("a hello split across TLS records of %p bytes", (recordSize) => {
    const split = records(handshake([sniExtension("split.test")]), recordSize);
    expect(parseClientHello(split)).toEqual({ kind: "hello", serverName: "split.test", alpn: [] });
    expect(parseClientHello(split.subarray(0, split.length - 1))).toEqual({ kind: "incomplete" });
  });

  test.each([
    ["no extensions at all", handshake(undefined)],
    ["extensions without server_name", handshake([alpnExtension(["http/1.1"])])],
    ["a name that is not a host name", handshake([sniExtension("bad name!")])],
    ["an IP address as the name", handshake([sniExtension("10.0.0.1")])],
    ["a name type other than host_name", handshake([sniExtension("x.test", 7)])],
  ])("no server name: %s", (_case, message) => {
    expect(parseClientHello(records(message))).toMatchObject({ kind: "hello", serverName: undefined });
  });

  test.each([
    ["plain HTTP", Uint8Array.from(ascii("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))],
    ["an SSH banner", Uint8Array.from(ascii("SSH-2.0-OpenSSH_9.6\r\n"))],
    ["a TLS alert record", Uint8Array.from([21, 3, 3, 0, 2, 2, 40])],
    ["a record with an unknown version", Uint8Array.from([22, 9, 9, 0, 4, 1, 0, 0, 0])],
    ["a zero-length record", Uint8Array.from([22, 3, 1, 0, 0])],
    ["a ServerHello", records(handshake([sniExtension("x.test")], 2))],
    [
      "an extension running past its message",
      records([1, 0, 0, 40, 3, 3, ...new Array(32).fill(0), 0, 0, 2, 0, 1, 1, 0, 0, 50]),
    ],
  ])("not TLS: %s", (_case, bytes) => {
    expect(parseClientHello(bytes).kind).toBe("not-tls");
  });

  test("a hello claiming more than 64 KiB is not waited for", () => {
    expect(parseClientHello(Uint8Array.from([22, 3, 1, 0, 4, 1, 0x01, 0x00, 0x01]))).toMatchObject({
      kind: "not-tls",
    });
  });

  test("a real node:tls client's first flight", async () => {
    let captured: Buffer | undefined;
    const wire = new Duplex({
      read() {},
      write(chunk, _encoding, callback) {
        captured ??= Buffer.from(chunk);
        callback();
      },
    });
    const client = tls.connect({
      socket: wire,
      servername: "real.example.test",
      ALPNProtocols: ["h2", "http/1.1"],
    });
    client.on("error", () => {});
    for (let waited = 0; captured === undefined && waited < 2000; waited += 10) await Bun.sleep(10);
    client.destroy();
    expect(parseClientHello(new Uint8Array(captured!))).toEqual({
      kind: "hello",
      serverName: "real.example.test",
      alpn: ["h2", "http/1.1"],
    });
  });
});
