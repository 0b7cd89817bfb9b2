// TLS interception benchmark (root, Linux): HTTPS requests from a network namespace standing in
// for the guest, through the NetworkEngine with the TLS interceptor, to a loopback HTTPS server;
// one name intercepted (terminated, re-encrypted upstream) and one bypassed (spliced), same run.
// Prints new-connection latency, keep-alive requests per second and latency, and download
// throughput for both, and what interception adds. Usage and how to read it: bench/README.md.

import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DnsServer } from "../src/network/dns/dns-server.ts";
import { DomainBlocklist } from "../src/network/dns/domain-blocklist.ts";
import { ResolvedNames } from "../src/network/dns/resolved-names.ts";
import { parseNameserver, SocketUpstream } from "../src/network/dns/upstream.ts";
import { NetworkEngine } from "../src/network/engine/network-engine.ts";
import { listenForGuestLink } from "../src/network/engine/stream-link.ts";
import { createFlowInterceptor } from "../src/network/intercept/flow-interceptor.ts";
import { networkPlan } from "../src/network/plan.ts";
import { EgressPolicy } from "../src/network/policy/egress-policy.ts";
import { parseNetRule } from "../src/network/policy/net-rule.ts";
import { createCaPem, loadCertificateAuthority } from "../src/network/tls/ca.ts";
import { mintLeaf } from "../src/network/tls/leaf-certificates.ts";
import { toPem } from "../src/network/tls/x509.ts";
import { createGuestNamespace } from "../tests/helpers/netns.ts";

const REPO_ROOT = resolve(import.meta.dir, "..");
const MB = 1024 * 1024;

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  if (index < 0) return fallback;
  const value = Number(process.argv[index + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} needs a positive number`);
  return value;
}

const CONNECTIONS = option("--connections", 200);
const REQUESTS = option("--requests", 2000);
const DOWNLOAD_BYTES = option("--mb", 64) * MB;
const CLIENT_TIMEOUT_MS = option("--timeout", 180) * 1000;
const INTERCEPTED = "api.bench";
const SPLICED = "splice.bench";

/** Host side, its own process: one HTTPS server per name; "/" answers "ok", "/bytes?n=N" N bytes. */
function serverScript(dir: string): string {
  return `
    import https from "node:https";
    import { readFileSync } from "node:fs";
    const block = Buffer.alloc(${MB}, 0x5a);
    const serve = (name) => new Promise((resolve) => {
      const server = https.createServer({
        cert: readFileSync(${JSON.stringify(dir)} + "/" + name + ".crt"),
        key: readFileSync(${JSON.stringify(dir)} + "/" + name + ".key"),
        keepAliveTimeout: 60_000,
      }, async (request, response) => {
        const n = Number(new URL(request.url, "https://x").searchParams.get("n") ?? 0);
        if (n === 0) { response.writeHead(200, { "content-length": "2" }); response.end("ok"); return; }
        response.writeHead(200, { "content-length": String(n) });
        for (let left = n; left > 0; left -= block.length) {
          if (!response.write(left >= block.length ? block : block.subarray(0, left)))
            await new Promise((resolve) => response.once("drain", resolve));
        }
        response.end();
      });
      server.listen(0, "127.0.0.1", () => resolve(server.address().port));
    });
    console.log(JSON.stringify({ ${JSON.stringify(INTERCEPTED)}: await serve(${JSON.stringify(INTERCEPTED)}),
      ${JSON.stringify(SPLICED)}: await serve(${JSON.stringify(SPLICED)}) }));
  `;
}

/** Guest side: per name, new connections with one request each, keep-alive requests, one download. */
function clientScript(gateway: string, ports: Record<string, number>, ca: string[]): string {
  return `
    import tls from "node:tls";
    const ca = ${JSON.stringify(ca)};
    const connect = (name) => new Promise((resolve, reject) => {
      const socket = tls.connect({ host: ${JSON.stringify(gateway)}, port: ${JSON.stringify(ports)}[name], servername: name, ca }, () => resolve(socket));
      socket.once("error", reject);
    });
    /** Requests on one socket, one at a time: resolves with the body length of each response. */
    function responses(socket) {
      let head = Buffer.alloc(0);
      let bodyLeft = -1, bodyLength = 0, waiter;
      const feed = (chunk) => {
        if (bodyLeft < 0) {
          head = head.length > 0 ? Buffer.concat([head, chunk]) : chunk;
          const end = head.indexOf("\\r\\n\\r\\n");
          if (end < 0) return;
          bodyLength = bodyLeft = Number(/content-length: *(\\d+)/i.exec(head.subarray(0, end).toString())[1]);
          chunk = head.subarray(end + 4);
          head = Buffer.alloc(0);
        }
        const take = Math.min(bodyLeft, chunk.length);
        bodyLeft -= take;
        if (bodyLeft > 0) return;
        bodyLeft = -1;
        const done = waiter;
        waiter = undefined;
        done(bodyLength);
        if (take < chunk.length) feed(chunk.subarray(take));
      };
      socket.on("data", feed);
      return (path, name) => new Promise((resolve) => {
        waiter = resolve;
        socket.write("GET " + path + " HTTP/1.1\\r\\nHost: " + name + "\\r\\n\\r\\n");
      });
    }
    const pick = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
    async function measure(name) {
      const fresh = [];
      for (let i = 0; i < ${CONNECTIONS}; i++) {
        const started = performance.now();
        const socket = await connect(name);
        await responses(socket)("/", name);
        fresh.push(performance.now() - started);
        socket.destroy();
      }
      fresh.sort((a, b) => a - b);
      const socket = await connect(name);
      const issuer = socket.getPeerCertificate().issuer.CN;
      const request = responses(socket);
      for (let i = 0; i < 50; i++) await request("/", name);
      const samples = [];
      const started = performance.now();
      for (let i = 0; i < ${REQUESTS}; i++) {
        const t = performance.now();
        await request("/", name);
        samples.push((performance.now() - t) * 1000);
      }
      const rps = ${REQUESTS} / ((performance.now() - started) / 1000);
      samples.sort((a, b) => a - b);
      const downloadStarted = performance.now();
      const bytes = await request("/bytes?n=${DOWNLOAD_BYTES}", name);
      const downloadSeconds = (performance.now() - downloadStarted) / 1000;
      socket.destroy();
      if (bytes !== ${DOWNLOAD_BYTES}) throw new Error("downloaded " + bytes + " bytes");
      return { issuer, connectMedianMs: pick(fresh, 0.5), connectP95Ms: pick(fresh, 0.95), rps,
        requestMedianUs: pick(samples, 0.5), requestP95Us: pick(samples, 0.95), downloadMBs: bytes / ${MB} / downloadSeconds };
    }
    setTimeout(() => { console.log(JSON.stringify({ error: "timed out" })); process.exit(1); }, ${CLIENT_TIMEOUT_MS - 5000});
    try {
      const spliced = await measure(${JSON.stringify(SPLICED)});
      const intercepted = await measure(${JSON.stringify(INTERCEPTED)});
      console.log(JSON.stringify({ spliced, intercepted }));
      process.exit(0);
    } catch (error) {
      console.log(JSON.stringify({ error: String(error) }));
      process.exit(1);
    }
  `;
}

interface Numbers {
  /** CN of the certificate's issuer as the guest saw it. */
  issuer: string;
  connectMedianMs: number;
  connectP95Ms: number;
  rps: number;
  requestMedianUs: number;
  requestP95Us: number;
  downloadMBs: number;
}

function row(label: string, numbers: Numbers): string {
  return [
    label.padEnd(13),
    numbers.connectMedianMs.toFixed(2).padStart(16),
    numbers.connectP95Ms.toFixed(2).padStart(13),
    numbers.rps.toFixed(0).padStart(10),
    numbers.requestMedianUs.toFixed(0).padStart(17),
    numbers.requestP95Us.toFixed(0).padStart(14),
    numbers.downloadMBs.toFixed(0).padStart(13),
  ].join("");
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error("bench/tls needs root (network namespace and TAP device)");
    process.exit(1);
  }
  const dir = mkdtempSync(join(tmpdir(), "msb-bench-tls-"));
  const upstreamCa = createCaPem();
  const signer = loadCertificateAuthority(upstreamCa, "bench upstream CA");
  for (const name of [INTERCEPTED, SPLICED]) {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    writeFileSync(
      join(dir, `${name}.crt`),
      toPem(mintLeaf(signer, publicKey, name, new Date())) + upstreamCa.certPem,
    );
    writeFileSync(join(dir, `${name}.key`), privateKey.export({ type: "pkcs8", format: "pem" }));
  }
  const server = Bun.spawn([process.execPath, "-e", serverScript(dir)], {
    cwd: REPO_ROOT,
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = server.stdout.getReader();
  const first = await reader.read();
  const ports = JSON.parse(new TextDecoder().decode(first.value)) as Record<string, number>;
  const plan = networkPlan(0);
  const msbCa = createCaPem();
  const policy = new EgressPolicy({
    rules: [parseNetRule("allow@host")],
    allowHost: false,
    gateway: plan.gateway.ip,
  });
  const resolvedNames = new ResolvedNames();
  const logLines: string[] = [];
  const engine = new NetworkEngine({
    plan,
    policy,
    dns: new DnsServer({
      upstream: new SocketUpstream([parseNameserver("127.0.0.1:9")]),
      blocklist: new DomainBlocklist([]),
      rebindProtection: true,
      policy,
      resolvedNames,
    }),
    resolvedNames,
    onLog: (line) => logLines.push(line),
    interceptor: createFlowInterceptor({
      ports: Object.values(ports),
      bypass: [SPLICED],
      blockQuic: true,
      ca: msbCa,
      upstreamCaPems: [upstreamCa.certPem],
      guard: null,
      log: (line) => logLines.push(line),
    }),
  });
  const socketPath = join(dir, "net.sock");
  const listener = listenForGuestLink(socketPath, engine);
  const guest = await createGuestNamespace(plan);
  try {
    guest.startRelay(socketPath);
    for (let attempt = 0; attempt < 20; attempt++) {
      if ((await guest.exec(["busybox", "ping", "-c1", "-W1", plan.gateway.ip], 5000)).exitCode === 0) break;
    }
    const result = await guest.runScript(
      clientScript(plan.gateway.ip, ports, [msbCa.certPem, upstreamCa.certPem]),
      CLIENT_TIMEOUT_MS,
    );
    const parsed = JSON.parse(result.stdout.trim().split("\n").pop() || "{}") as {
      spliced?: Numbers;
      intercepted?: Numbers;
      error?: string;
    };
    if (parsed.spliced === undefined || parsed.intercepted === undefined) {
      console.error(`client failed: ${parsed.error ?? result.stderr.trim()}`);
      for (const line of logLines) console.error(`engine: ${line}`);
      process.exitCode = 1;
      return;
    }
    const { spliced, intercepted } = parsed;
    const msbIssuer = /CN=(.*)/.exec(new X509Certificate(msbCa.certPem).subject)?.[1];
    if (intercepted.issuer !== msbIssuer || spliced.issuer === msbIssuer) {
      console.error(
        `unexpected issuers: intercepted ${intercepted.issuer}, spliced ${spliced.issuer} (msb CA: ${msbIssuer})`,
      );
      process.exitCode = 1;
      return;
    }
    console.log(
      `${CONNECTIONS} new connections (handshake + 1 request), ${REQUESTS} keep-alive requests, ${DOWNLOAD_BYTES / MB} MiB download\n`,
    );
    console.log(
      "path         new conn med ms  p95 ms  keep-alive req/s  req med µs  req p95 µs  download MB/s",
    );
    console.log(row("spliced", spliced));
    console.log(row("intercepted", intercepted));
    console.log(
      `\nadded by interception: ${(intercepted.connectMedianMs - spliced.connectMedianMs).toFixed(2)} ms per new connection (median), ` +
        `${(intercepted.requestMedianUs - spliced.requestMedianUs).toFixed(0)} µs per keep-alive request (median), ` +
        `requests/s ×${(intercepted.rps / spliced.rps).toFixed(2)}, download ×${(intercepted.downloadMBs / spliced.downloadMBs).toFixed(2)}`,
    );
  } finally {
    await guest.destroy();
    listener.stop();
    engine.close();
    server.kill();
    await server.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
