// TLS interception through the network engine with a network namespace as the guest (as in
// net-engine-netns.test.ts). Host HTTPS servers with their own CA (trusted as an upstream CA)
// stand behind the gateway. The guest sees a leaf minted by the msb CA with ALPN http/1.1 and its
// requests reach the server through the guard's filters (keep-alive, large bodies, a hello split
// across segments); a request the guard refuses resets the connection; a bypassed name is spliced
// with the server's own certificate; an upstream certificate that does not match the SNI or comes
// from an untrusted CA fails the guest's connection, as does a guest that rejects our leaf, each
// with a log line saying why; plain TCP passes the guard's plain filter. Root only.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, generateKeyPairSync, X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import type http from "node:http";
import https from "node:https";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DnsServer } from "../../src/network/dns/dns-server.ts";
import { DomainBlocklist } from "../../src/network/dns/domain-blocklist.ts";
import { ResolvedNames } from "../../src/network/dns/resolved-names.ts";
import { parseNameserver, SocketUpstream } from "../../src/network/dns/upstream.ts";
import { NetworkEngine } from "../../src/network/engine/network-engine.ts";
import { type GuestLinkListener, listenForGuestLink } from "../../src/network/engine/stream-link.ts";
import type { FlowContext, FlowGuard, StreamFilter } from "../../src/network/intercept/flow-filter.ts";
import { createFlowInterceptor } from "../../src/network/intercept/flow-interceptor.ts";
import { networkPlan } from "../../src/network/plan.ts";
import { EgressPolicy } from "../../src/network/policy/egress-policy.ts";
import { parseNetRule } from "../../src/network/policy/net-rule.ts";
import { type CaPem, createCaPem, loadCertificateAuthority } from "../../src/network/tls/ca.ts";
import { mintLeaf } from "../../src/network/tls/leaf-certificates.ts";
import { toPem } from "../../src/network/tls/x509.ts";
import { createGuestNamespace, type GuestNamespace } from "../helpers/netns.ts";
import { announceSkip, firstSkipReason, requireLinux, requireRoot, requireTool } from "../helpers/skip.ts";

const skipReason = announceSkip(
  "tls interception",
  firstSkipReason(
    requireLinux(),
    requireRoot(),
    requireTool("ip", "apt-get install iproute2"),
    requireTool("busybox", "apt-get install busybox"),
    requireTool("/dev/net/tun", "load the tun module"),
  ),
);

const plan = networkPlan(0);
const GATEWAY = plan.gateway.ip;
const PLACEHOLDER = "msb-placeholder-0001";
const REAL_VALUE = "the-real-secret-0001";
const CUT_MARKER = "/cut-by-guard";

/**
 * Replaces PLACEHOLDER within one chunk (same length, so framing is untouched) and cuts the
 * stream on CUT_MARKER: enough for a fake guard.
 */
function substituting(): StreamFilter {
  return {
    push: (chunk) => {
      const text = new TextDecoder().decode(chunk);
      return text.includes(CUT_MARKER)
        ? null
        : new TextEncoder().encode(text.replaceAll(PLACEHOLDER, REAL_VALUE));
    },
    end: () => new Uint8Array(0),
  };
}

/** Cuts the stream when PLACEHOLDER shows up. */
function blocking(): StreamFilter {
  return {
    push: (chunk) => (new TextDecoder().decode(chunk).includes(PLACEHOLDER) ? null : chunk),
    end: () => new Uint8Array(0),
  };
}

function commonName(certPem: string): string | undefined {
  return /CN=(.*)/.exec(new X509Certificate(certPem).subject)?.[1];
}

interface Received {
  server: string;
  url: string;
  authorization: string | undefined;
  host: string | undefined;
}

interface TestServer {
  server: https.Server;
  port: number;
  /** TLS connections accepted. */
  connections: number;
}

/** An HTTPS server on 127.0.0.1 with a certificate for `name` from `ca`, recording requests. */
async function startServer(ca: CaPem, name: string, received: Received[]): Promise<TestServer> {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const cert =
    toPem(mintLeaf(loadCertificateAuthority(ca, "test CA"), publicKey, name, new Date())) + ca.certPem;
  const key = privateKey.export({ type: "pkcs8", format: "pem" });
  const record: TestServer = { server: https.createServer({ cert, key }), port: 0, connections: 0 };
  record.server.on("secureConnection", () => record.connections++);
  record.server.on("request", (request, response) => {
    if (request.url?.startsWith("/bulk")) {
      bulk(request, response);
      return;
    }
    received.push({
      server: name,
      url: request.url ?? "",
      authorization: request.headers.authorization,
      host: request.headers.host,
    });
    const body = `ok ${received.length}`;
    response.writeHead(200, { "content-length": String(body.length) });
    response.end(body);
  });
  await new Promise<void>((resolve) => record.server.listen(0, "127.0.0.1", resolve));
  record.port = (record.server.address() as net.AddressInfo).port;
  return record;
}

/** Reads the request body and answers with its length and sha256, then `n` (query) bytes of 0x5a. */
function bulk(request: http.IncomingMessage, response: http.ServerResponse): void {
  const hash = createHash("sha256");
  let length = 0;
  request.on("data", (chunk: Buffer) => {
    hash.update(chunk);
    length += chunk.length;
  });
  request.on("end", () => {
    const size = Number(new URL(request.url ?? "", "https://x").searchParams.get("n"));
    const head = `${length} ${hash.digest("hex")}\n`;
    response.writeHead(200, { "content-length": String(head.length + size) });
    response.write(head);
    response.end(Buffer.alloc(size, 0x5a));
  });
}

/**
 * Guest script: one TLS connection to the gateway, `paths.length` keep-alive GET requests on it.
 * Prints the peer certificate's issuer CN, the ALPN result and the response bodies, or the error.
 * With `splitHello`, the ClientHello leaves in two TCP segments 50 ms apart.
 */
function httpsClientScript(options: {
  port: number;
  servername: string;
  ca: string;
  paths: string[];
  splitHello?: boolean;
}): string {
  return `
    import net from "node:net";
    import { Duplex } from "node:stream";
    import tls from "node:tls";
    const fail = (error) => { console.log(JSON.stringify({ error: error.code ?? error.message })); process.exit(0); };
    const tlsOptions = { servername: ${JSON.stringify(options.servername)}, ca: ${JSON.stringify(options.ca)}, ALPNProtocols: ["h2", "http/1.1"] };
    let socket;
    if (${options.splitHello === true}) {
      const raw = net.connect({ host: ${JSON.stringify(GATEWAY)}, port: ${options.port}, noDelay: true });
      raw.on("error", fail);
      await new Promise((resolve) => raw.once("connect", resolve));
      let first = true;
      const wire = new Duplex({
        read() {},
        write(chunk, _encoding, callback) {
          if (!first) { raw.write(chunk, callback); return; }
          first = false;
          raw.write(chunk.subarray(0, 20));
          setTimeout(() => raw.write(chunk.subarray(20), callback), 50);
        },
        final(callback) { raw.end(); callback(); },
      });
      raw.on("data", (chunk) => wire.push(chunk));
      raw.on("end", () => wire.push(null));
      socket = tls.connect({ socket: wire, ...tlsOptions });
    } else {
      socket = tls.connect({ host: ${JSON.stringify(GATEWAY)}, port: ${options.port}, ...tlsOptions });
    }
    socket.on("error", fail);
    socket.on("close", () => fail(new Error("closed")));
    await new Promise((resolve) => socket.once("secureConnect", resolve));
    const result = { issuer: socket.getPeerCertificate().issuer.CN, alpn: socket.alpnProtocol, bodies: [] };
    let buffer = Buffer.alloc(0);
    let waiting;
    socket.on("data", (chunk) => { buffer = Buffer.concat([buffer, chunk]); waiting?.(); });
    const nextResponse = () => new Promise((resolve) => {
      waiting = () => {
        const end = buffer.indexOf("\\r\\n\\r\\n");
        if (end < 0) return;
        const length = Number(/content-length: *(\\d+)/i.exec(buffer.subarray(0, end).toString())[1]);
        if (buffer.length < end + 4 + length) return;
        const body = buffer.subarray(end + 4, end + 4 + length).toString();
        buffer = buffer.subarray(end + 4 + length);
        resolve(body);
      };
      waiting();
    });
    for (const path of ${JSON.stringify(options.paths)}) {
      socket.write("GET " + path + " HTTP/1.1\\r\\nHost: ${options.servername}\\r\\nAuthorization: Bearer ${PLACEHOLDER}\\r\\n\\r\\n");
      result.bodies.push(await nextResponse());
    }
    socket.removeAllListeners("close");
    socket.end();
    console.log(JSON.stringify(result));
  `;
}

describe.skipIf(skipReason !== undefined)("TLS interception with a namespace as the guest", () => {
  let workDir: string;
  let guest: GuestNamespace;
  let engine: NetworkEngine;
  let listener: GuestLinkListener;
  let api: TestServer;
  let bypassed: TestServer;
  let untrusted: TestServer;
  let echoServer: net.Server;
  let echoPort: number;
  const msbCa = createCaPem();
  const upstreamCa = createCaPem();
  const received: Received[] = [];
  const guardCalls: (FlowContext & { kind: string })[] = [];
  const logLines: string[] = [];

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "msb-tls-"));
    api = await startServer(upstreamCa, "api.test", received);
    bypassed = await startServer(upstreamCa, "bypass.test", received);
    untrusted = await startServer(createCaPem(), "untrusted.test", received);
    echoServer = net.createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => echoServer.listen(0, "127.0.0.1", resolve));
    echoPort = (echoServer.address() as net.AddressInfo).port;
    const guard: FlowGuard = {
      forTls(context) {
        guardCalls.push({ kind: "tls", ...context });
        return {
          request: substituting(),
          response: { push: (chunk) => chunk, end: () => new Uint8Array(0) },
        };
      },
      forPlain(context) {
        guardCalls.push({ kind: "plain", ...context });
        return blocking();
      },
      allowDatagram: () => true,
    };
    const policy = new EgressPolicy({
      rules: [parseNetRule("allow@host")],
      allowHost: false,
      gateway: GATEWAY,
    });
    const resolvedNames = new ResolvedNames();
    const dns = new DnsServer({
      upstream: new SocketUpstream([parseNameserver("127.0.0.1:9")]),
      blocklist: new DomainBlocklist([]),
      rebindProtection: true,
      policy,
      resolvedNames,
    });
    const log = (line: string) => logLines.push(line);
    engine = new NetworkEngine({
      plan,
      policy,
      dns,
      resolvedNames,
      onLog: log,
      interceptor: createFlowInterceptor({
        ports: [api.port, bypassed.port, untrusted.port],
        bypass: ["bypass.test", "*.example.test"],
        blockQuic: true,
        ca: msbCa,
        upstreamCaPems: [upstreamCa.certPem],
        guard,
        log,
      }),
    });
    const socketPath = join(workDir, "net.sock");
    listener = listenForGuestLink(socketPath, engine);
    guest = await createGuestNamespace(plan);
    guest.startRelay(socketPath);
    // The relay may still be starting: wait until the gateway answers.
    for (let attempt = 0; attempt < 20; attempt++) {
      const probe = await guest.exec(["busybox", "ping", "-c1", "-W1", GATEWAY], 5000);
      if (probe.exitCode === 0) break;
    }
  });

  afterAll(async () => {
    await guest?.destroy();
    listener?.stop();
    engine?.close();
    api?.server.close();
    bypassed?.server.close();
    untrusted?.server.close();
    echoServer?.close();
    if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
  });

  test("an intercepted connection gets a leaf from the msb CA, http/1.1, and filtered keep-alive requests", async () => {
    const before = api.connections;
    const result = await guest.runScript(
      httpsClientScript({
        port: api.port,
        servername: "api.test",
        ca: msbCa.certPem,
        paths: ["/one", "/two", "/three?q=1"],
      }),
    );
    const outcome = JSON.parse(result.stdout.trim());
    expect(outcome.issuer).toBe(commonName(msbCa.certPem));
    expect(outcome.alpn).toBe("http/1.1");
    expect(outcome.bodies).toHaveLength(3);
    const seen = received.filter((entry) => entry.server === "api.test");
    expect(seen.map((entry) => entry.url)).toEqual(["/one", "/two", "/three?q=1"]);
    expect(seen.every((entry) => entry.authorization === `Bearer ${REAL_VALUE}`)).toBe(true);
    expect(api.connections - before).toBe(1);
    expect(guardCalls).toContainEqual({
      kind: "tls",
      dstIp: GATEWAY,
      dstPort: api.port,
      domains: [],
      sni: "api.test",
    });
  });

  // Not a guest half-close: Bun 1.4.5's server TLSSocket ends its write side on close_notify.
  test("large bodies both ways keep their bytes through the decrypting pumps", async () => {
    const upload = 8 * 1024 * 1024;
    const download = 16 * 1024 * 1024;
    const result = await guest.runScript(`
      import tls from "node:tls";
      import { createHash } from "node:crypto";
      const body = Buffer.alloc(${upload}, 7);
      const socket = tls.connect({ host: ${JSON.stringify(GATEWAY)}, port: ${api.port}, servername: "api.test",
        ca: ${JSON.stringify(msbCa.certPem)} }, () => {
        socket.write("POST /bulk?n=${download} HTTP/1.1\\r\\nHost: api.test\\r\\nContent-Length: ${upload}\\r\\n\\r\\n");
        socket.write(body);
      });
      const chunks = [];
      let bytes = 0;
      socket.on("data", (chunk) => {
        chunks.push(chunk);
        bytes += chunk.length;
        const all = Buffer.concat(chunks);
        const headEnd = all.indexOf("\\r\\n\\r\\n");
        if (headEnd < 0) return;
        const length = Number(/content-length: *(\\d+)/i.exec(all.subarray(0, headEnd).toString())[1]);
        if (all.length < headEnd + 4 + length) return;
        const newline = all.indexOf(10, headEnd + 4);
        socket.end();
        console.log(JSON.stringify({ head: all.subarray(headEnd + 4, newline).toString(), rest: all.length - newline - 1,
          sent: ${upload} + " " + createHash("sha256").update(body).digest("hex") }));
      });
      socket.on("error", (error) => console.log(JSON.stringify({ error: error.code ?? error.message })));
    `);
    const outcome = JSON.parse(result.stdout.trim());
    expect(outcome.head).toBe(outcome.sent);
    expect(outcome.rest).toBe(download);
  });

  test("a request the guard refuses resets the guest's connection before it reaches the server", async () => {
    const result = await guest.runScript(
      httpsClientScript({
        port: api.port,
        servername: "api.test",
        ca: msbCa.certPem,
        paths: ["/fine", CUT_MARKER],
      }),
    );
    expect(JSON.parse(result.stdout.trim()).error).toBeDefined();
    expect(received.some((entry) => entry.url === "/fine")).toBe(true);
    expect(received.some((entry) => entry.url === CUT_MARKER)).toBe(false);
    expect(logLines).toContain(`tls ${GATEWAY}:${api.port} (api.test): stream cut by the secret guard`);
  });

  test("a ClientHello split across two TCP segments is still read", async () => {
    const result = await guest.runScript(
      httpsClientScript({
        port: api.port,
        servername: "api.test",
        ca: msbCa.certPem,
        paths: ["/split-hello"],
        splitHello: true,
      }),
    );
    const outcome = JSON.parse(result.stdout.trim());
    expect(outcome.issuer).toBe(commonName(msbCa.certPem));
    expect(received.find((entry) => entry.url === "/split-hello")?.authorization).toBe(
      `Bearer ${REAL_VALUE}`,
    );
  });

  test("a guest that does not trust the msb CA fails its handshake, and the log suggests a bypass", async () => {
    const result = await guest.runScript(
      httpsClientScript({
        port: api.port,
        servername: "api.test",
        ca: upstreamCa.certPem,
        paths: ["/untrusted"],
      }),
    );
    expect(JSON.parse(result.stdout.trim()).error).toBeDefined();
    expect(received.some((entry) => entry.url === "/untrusted")).toBe(false);
    // The guest's alert may reach the engine just after the guest process exits.
    for (
      let waited = 0;
      waited < 2000 && !logLines.some((line) => line.includes("--tls-bypass"));
      waited += 50
    )
      await Bun.sleep(50);
    expect(logLines.some((line) => line.includes("(api.test): guest TLS handshake failed"))).toBe(true);
  });

  test("a bypassed name is spliced: the guest sees the server's own certificate", async () => {
    const result = await guest.runScript(
      httpsClientScript({
        port: bypassed.port,
        servername: "bypass.test",
        ca: upstreamCa.certPem,
        paths: ["/spliced"],
      }),
    );
    const outcome = JSON.parse(result.stdout.trim());
    expect(outcome.issuer).toBe(commonName(upstreamCa.certPem));
    expect(outcome.issuer).not.toBe(commonName(msbCa.certPem));
    expect(outcome.bodies).toHaveLength(1);
    // Spliced bytes are ciphertext: the guard's plain filter saw them, nothing was substituted.
    expect(received.find((entry) => entry.url === "/spliced")?.authorization).toBe(`Bearer ${PLACEHOLDER}`);
    expect(guardCalls).toContainEqual({
      kind: "plain",
      dstIp: GATEWAY,
      dstPort: bypassed.port,
      domains: [],
      sni: "bypass.test",
    });
  });

  test("an upstream certificate that does not match the SNI fails the guest's connection, and says why", async () => {
    const result = await guest.runScript(
      httpsClientScript({ port: api.port, servername: "wrong.test", ca: msbCa.certPem, paths: ["/never"] }),
    );
    const outcome = JSON.parse(result.stdout.trim());
    expect(outcome.error).toBeDefined();
    expect(received.some((entry) => entry.url === "/never")).toBe(false);
    expect(
      logLines.some((line) => line.includes("(wrong.test)") && line.includes("upstream certificate")),
    ).toBe(true);
  });

  test("an upstream certificate from a CA the host does not trust fails the guest's connection", async () => {
    const result = await guest.runScript(
      httpsClientScript({
        port: untrusted.port,
        servername: "untrusted.test",
        ca: msbCa.certPem,
        paths: ["/unverified"],
      }),
    );
    expect(JSON.parse(result.stdout.trim()).error).toBeDefined();
    expect(received.some((entry) => entry.url === "/unverified")).toBe(false);
    expect(logLines.some((line) => line.includes("(untrusted.test): upstream certificate"))).toBe(true);
  });

  test("plain TCP on another port passes the guard's plain filter, which can cut it", async () => {
    const result = await guest.runScript(`
      import net from "node:net";
      const talk = (payload) => new Promise((resolve) => {
        const socket = net.createConnection({ host: ${JSON.stringify(GATEWAY)}, port: ${echoPort} }, () => socket.write(payload));
        let echoed = "";
        socket.on("data", (chunk) => { echoed += chunk; if (echoed.length >= payload.length) { socket.destroy(); resolve({ echoed }); } });
        socket.on("error", (error) => resolve({ error: error.code }));
      });
      console.log(JSON.stringify({ clean: await talk("hello"), secret: await talk("x ${PLACEHOLDER} y") }));
    `);
    const outcome = JSON.parse(result.stdout.trim());
    expect(outcome.clean).toEqual({ echoed: "hello" });
    expect(outcome.secret.error).toBe("ECONNRESET");
    expect(guardCalls.some((call) => call.kind === "plain" && call.dstPort === echoPort)).toBe(true);
  });
});
