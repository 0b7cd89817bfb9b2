// The interceptor's decisions: which names are bypassed, which UDP datagrams pass (QUIC blocked
// on intercepted ports, the guard asked elsewhere), which host side a TCP flow gets, and the
// filtered relay cutting a connection when the guard refuses its bytes.
import { describe, expect, test } from "bun:test";
import type { TcpHostSide } from "../../src/network/engine/tcp-host-side.ts";
import { FilteredSide } from "../../src/network/intercept/filtered-side.ts";
import type { FlowGuard, StreamFilter } from "../../src/network/intercept/flow-filter.ts";
import { bypassMatcher, createFlowInterceptor } from "../../src/network/intercept/flow-interceptor.ts";
import { TlsInterceptSide } from "../../src/network/intercept/tls-host-side.ts";
import type { GuestTcpConnection } from "../../src/network/tcp/connection.ts";
import { createCaPem } from "../../src/network/tls/ca.ts";

describe("bypassMatcher", () => {
  const isBypassed = bypassMatcher(["Pinned.Example.com.", "*.googleapis.com"]);
  test.each([
    ["pinned.example.com", true],
    ["www.pinned.example.com", false],
    ["storage.googleapis.com", true],
    ["a.b.googleapis.com", true],
    ["googleapis.com", false],
    ["evilgoogleapis.com", false],
    ["example.com", false],
  ])("%s → %p", (name, expected) => {
    expect(isBypassed(name)).toBe(expected);
  });
});

const ca = createCaPem();
const flow = { dstIp: "203.0.113.7", domains: ["api.test"] };

function guardAllowing(datagrams: boolean): FlowGuard {
  const pass: StreamFilter = { push: (chunk) => chunk, end: () => new Uint8Array(0) };
  return {
    forTls: () => ({ request: pass, response: pass }),
    forPlain: () => pass,
    allowDatagram: () => datagrams,
  };
}

function interceptor(options: { blockQuic: boolean; guard: FlowGuard | null }) {
  return createFlowInterceptor({
    ports: [443, 8443],
    bypass: [],
    ca,
    upstreamCaPems: [],
    log: () => {},
    ...options,
  });
}

describe("createFlowInterceptor", () => {
  test.each([
    { blockQuic: true, guard: null, port: 443, allowed: false },
    { blockQuic: false, guard: null, port: 443, allowed: true },
    { blockQuic: true, guard: null, port: 8443, allowed: false },
    { blockQuic: true, guard: null, port: 5000, allowed: true },
    { blockQuic: true, guard: guardAllowing(false), port: 5000, allowed: false },
    { blockQuic: false, guard: guardAllowing(true), port: 5000, allowed: true },
  ])("UDP to port $port (blockQuic $blockQuic) allowed: $allowed", ({ blockQuic, guard, port, allowed }) => {
    expect(
      interceptor({ blockQuic, guard }).allowDatagram({ ...flow, dstPort: port }, new Uint8Array(8)),
    ).toBe(allowed);
  });

  const tcpFlow = (dstPort: number) => ({
    ...flow,
    dstPort,
    hostname: flow.dstIp,
    connectTimeoutMs: 1000,
    onActivity: () => {},
  });

  test("TCP to an intercepted port gets the TLS side, with or without a guard", () => {
    expect(interceptor({ blockQuic: true, guard: null }).tcpSide(tcpFlow(8443))).toBeInstanceOf(
      TlsInterceptSide,
    );
    expect(interceptor({ blockQuic: true, guard: guardAllowing(true) }).tcpSide(tcpFlow(443))).toBeInstanceOf(
      TlsInterceptSide,
    );
  });

  test("other TCP: the plain relay without a guard, a filtered relay with one", () => {
    expect(interceptor({ blockQuic: true, guard: null }).tcpSide(tcpFlow(80))).toBeUndefined();
    expect(interceptor({ blockQuic: true, guard: guardAllowing(true) }).tcpSide(tcpFlow(80))).toBeInstanceOf(
      FilteredSide,
    );
  });

  test("a CA pair that does not hold together is refused when the interceptor is built", () => {
    const broken = { certPem: ca.certPem, keyPem: createCaPem().keyPem };
    expect(() =>
      createFlowInterceptor({
        bypass: [],
        blockQuic: true,
        ca: broken,
        upstreamCaPems: [],
        guard: null,
        log: () => {},
      }),
    ).toThrow("does not match");
  });
});

test("an upstream CA that is not a certificate is a usage error naming the flag", () => {
  expect(() =>
    createFlowInterceptor({
      bypass: [],
      blockQuic: true,
      ca,
      upstreamCaPems: ["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"],
      guard: null,
      log: () => {},
    }),
  ).toThrow("upstream CA");
});

describe("FilteredSide", () => {
  function recordingSide(events: string[]): TcpHostSide {
    return {
      start: () => events.push("start"),
      write: (bytes) => {
        events.push(`write ${new TextDecoder().decode(bytes)}`);
        return true;
      },
      end: () => events.push("end"),
      abort: () => events.push("abort"),
      resume: () => events.push("resume"),
      closed: (reason) => events.push(`closed ${reason}`),
    };
  }

  /** Holds back a trailing "SEC" (the start of a possible "SECRET") and cuts on "SECRET". */
  function holdingFilter(): StreamFilter {
    let held = "";
    return {
      push(chunk) {
        const text = held + new TextDecoder().decode(chunk);
        if (text.includes("SECRET")) return null;
        const keep = text.endsWith("SEC") ? 3 : 0;
        held = text.slice(text.length - keep);
        return new TextEncoder().encode(text.slice(0, text.length - keep));
      },
      end: () => new TextEncoder().encode(held),
    };
  }

  const connection = (events: string[]) =>
    ({ abort: () => events.push("guest reset") }) as unknown as GuestTcpConnection;

  test("passes filtered bytes on and flushes the held tail before the end", () => {
    const events: string[] = [];
    const side = new FilteredSide(recordingSide(events), holdingFilter());
    side.start(connection(events));
    expect(side.write(new TextEncoder().encode("hello SEC"))).toBe(true);
    expect(side.write(new TextEncoder().encode("OND"))).toBe(true);
    side.end();
    expect(events).toEqual(["start", "write hello ", "write SECOND", "end"]);
  });

  test("a refused chunk resets the guest and aborts the host side; later bytes are dropped", () => {
    const events: string[] = [];
    const side = new FilteredSide(recordingSide(events), holdingFilter());
    side.start(connection(events));
    expect(side.write(new TextEncoder().encode("a SEC"))).toBe(true);
    expect(side.write(new TextEncoder().encode("RET"))).toBe(false);
    expect(side.write(new TextEncoder().encode("more"))).toBe(false);
    side.end();
    expect(events).toEqual(["start", "write a ", "abort", "guest reset"]);
  });
});
