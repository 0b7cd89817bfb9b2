// Network engine benchmark (root, Linux): TCP throughput guest→host and host→guest and the latency
// of 1-byte request/response round trips through the NetworkEngine with a network namespace as
// the guest (as in tests/integration/net-engine-netns.test.ts), at MTU 1500 and 65520, beside the
// same client over plain host loopback and through pasta (Debian `passt`) when it is installed.
// Usage and how to read it: bench/README.md.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { listenForGuestLink } from "../src/network/engine/stream-link.ts";
import { networkPlan } from "../src/network/plan.ts";
import { createNetworkEngine } from "../src/supervisor/start-network.ts";
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

const BYTES = option("--mb", 512) * MB;
const ROUND_TRIPS = option("--rtts", 1000);
const CLIENT_TIMEOUT_MS = option("--timeout", 180) * 1000;
/** Aims. */
const AIM_GBITS = 1;
const AIM_PASTA_FRACTION = 0.5;
const AIM_ADDED_RTT_US = 200;

/** Host side: a sink (counts, answers "ok" at EOF), a source ("<n>\n" → n bytes) and an echo port. */
const SERVER = `
  import net from "node:net";
  const block = Buffer.alloc(${MB}, 0x5a);
  const listen = (server) => new Promise((resolve) => server.listen({ port: 0, host: "127.0.0.1", backlog: 1024 }, () => resolve(server.address().port)));
  // A length line, then that many bytes; answers "ok <n>" once they are in (no reliance on half-close).
  const sink = net.createServer((socket) => {
    let expected = -1;
    let header = "";
    let bytes = 0;
    socket.on("error", () => {});
    socket.on("data", (chunk) => {
      if (expected < 0) {
        const newline = chunk.indexOf(10);
        if (newline < 0) { header += chunk; return; }
        expected = Number(header + chunk.subarray(0, newline));
        chunk = chunk.subarray(newline + 1);
      }
      bytes += chunk.length;
      if (bytes >= expected) socket.write("ok " + bytes);
    });
  });
  const source = net.createServer((socket) => {
    socket.on("error", () => {});
    let request = "";
    socket.on("data", async (chunk) => {
      request += chunk;
      if (!request.includes("\\n")) return;
      let left = Number(request.trim());
      request = "";
      while (left > 0) {
        const piece = left >= block.length ? block : block.subarray(0, left);
        left -= piece.length;
        if (!socket.write(piece)) await new Promise((resolve) => socket.once("drain", resolve));
      }
      socket.end();
    });
  });
  const echo = net.createServer((socket) => { socket.setNoDelay(true); socket.on("error", () => {}); socket.pipe(socket); });
  console.log(JSON.stringify({ sink: await listen(sink), source: await listen(source), echo: await listen(echo) }));
`;

interface Ports {
  sink: number;
  source: number;
  echo: number;
}

/** The client: run on the host, in the namespace, or under pasta; host "gateway" = default route. */
function clientScript(host: string, ports: Ports): string {
  return `
    import net from "node:net";
    import { readFileSync } from "node:fs";
    function defaultGateway() {
      for (const line of readFileSync("/proc/net/route", "utf8").split("\\n").slice(1)) {
        const fields = line.trim().split(/\\s+/);
        if (fields[1] === "00000000" && fields[2]) {
          const hex = fields[2];
          return [6, 4, 2, 0].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(".");
        }
      }
      throw new Error("no default route");
    }
    const host = ${JSON.stringify(host)} === "gateway" ? defaultGateway() : ${JSON.stringify(host)};
    const total = ${BYTES};
    const block = Buffer.alloc(${MB}, 0xa5);
    const connect = (port, options = {}) => new Promise((resolve, reject) => {
      const socket = net.createConnection({ host, port, ...options }, () => resolve(socket));
      socket.once("error", reject);
    });
    async function upload() {
      const socket = await connect(${ports.sink});
      const started = performance.now();
      let reply = "";
      const expectedReply = "ok " + total;
      const done = new Promise((resolve, reject) => {
        socket.on("data", (c) => { reply += c; if (reply.length >= expectedReply.length) resolve(); });
        socket.on("close", resolve);
        socket.on("error", reject);
      });
      socket.write(total + "\\n");
      let left = total;
      while (left > 0) {
        const piece = left >= block.length ? block : block.subarray(0, left);
        left -= piece.length;
        if (!socket.write(piece)) await new Promise((resolve) => socket.once("drain", resolve));
      }
      await done;
      const seconds = (performance.now() - started) / 1000;
      socket.destroy();
      if (reply !== expectedReply) throw new Error("sink answered " + JSON.stringify(reply));
      return seconds;
    }
    async function download() {
      const socket = await connect(${ports.source});
      const started = performance.now();
      let bytes = 0;
      await new Promise((resolve, reject) => {
        socket.on("data", (chunk) => { bytes += chunk.length; if (bytes >= total) resolve(); });
        socket.on("close", resolve);
        socket.on("error", reject);
        socket.write(total + "\\n");
      });
      const seconds = (performance.now() - started) / 1000;
      socket.destroy();
      if (bytes !== total) throw new Error("received " + bytes + " of " + total);
      return seconds;
    }
    async function latency() {
      const socket = await connect(${ports.echo});
      socket.setNoDelay(true);
      let waiter;
      socket.on("data", () => { const w = waiter; waiter = undefined; w?.(); });
      const one = Buffer.from("x");
      const samples = [];
      for (let i = 0; i < ${ROUND_TRIPS} + 50; i++) {
        const started = performance.now();
        await new Promise((resolve) => { waiter = resolve; socket.write(one); });
        if (i >= 50) samples.push((performance.now() - started) * 1000);
      }
      socket.destroy();
      samples.sort((a, b) => a - b);
      return { median: samples[Math.floor(samples.length / 2)], p95: samples[Math.floor(samples.length * 0.95)] };
    }
    // The runner's SIGKILL may reach only pasta, not this process: stop on our own as well.
    setTimeout(() => { console.log(JSON.stringify({ error: "timed out after ${CLIENT_TIMEOUT_MS - 5000} ms" })); process.exit(1); }, ${CLIENT_TIMEOUT_MS - 5000});
    try {
      const up = await upload();
      const down = await download();
      const rtt = await latency();
      console.log(JSON.stringify({ up, down, rtt }));
      process.exit(0);
    } catch (error) {
      console.log(JSON.stringify({ error: String(error) }));
      process.exit(1);
    }
  `;
}

interface Measurement {
  label: string;
  upMBs?: number;
  downMBs?: number;
  rttMedianUs?: number;
  rttP95Us?: number;
  note?: string;
}

async function runCommand(argv: string[], timeoutMs: number) {
  const child = Bun.spawn(argv, { cwd: REPO_ROOT, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  clearTimeout(timer);
  return { exitCode, stdout, stderr };
}

function toMeasurement(
  label: string,
  result: { exitCode: number | null; stdout: string; stderr: string },
): Measurement {
  const line = result.stdout.trim().split("\n").pop() ?? "";
  let parsed: { up?: number; down?: number; rtt?: { median: number; p95: number }; error?: string };
  try {
    parsed = JSON.parse(line);
  } catch {
    const why = `${result.stderr.trim() || result.stdout.trim() || `exit ${result.exitCode}`}`
      .split("\n")
      .slice(-3)
      .join(" | ");
    return { label, note: `failed: ${why.slice(0, 300)}` };
  }
  if (parsed.error !== undefined) return { label, note: `failed: ${parsed.error}` };
  return {
    label,
    upMBs: BYTES / MB / parsed.up!,
    downMBs: BYTES / MB / parsed.down!,
    rttMedianUs: parsed.rtt!.median,
    rttP95Us: parsed.rtt!.p95,
  };
}

async function measureEngine(mtu: number, ports: Ports, workDir: string): Promise<Measurement> {
  const label = `engine, MTU ${mtu}`;
  const plan = networkPlan(0, { mtu });
  const engine = createNetworkEngine(
    {
      rules: ["allow@host"],
      blockedDomains: [],
      nameservers: ["127.0.0.1:9"],
      rebindProtection: true,
      maxConnections: 256,
    },
    plan,
  );
  const socketPath = join(workDir, `net-${mtu}.sock`);
  const listener = listenForGuestLink(socketPath, engine);
  let guest: Awaited<ReturnType<typeof createGuestNamespace>> | undefined;
  try {
    guest = await createGuestNamespace(plan);
    activeGuests.add(guest);
    guest.startRelay(socketPath);
    for (let attempt = 0; attempt < 20; attempt++) {
      if ((await guest.exec(["ping", "-c1", "-W1", plan.gateway.ip], 5000)).exitCode === 0) break;
    }
    return toMeasurement(
      label,
      await guest.runScript(clientScript(plan.gateway.ip, ports), CLIENT_TIMEOUT_MS),
    );
  } catch (error) {
    return { label, note: `failed: ${(error as Error).message}` };
  } finally {
    if (guest !== undefined) {
      await guest.destroy();
      activeGuests.delete(guest);
    }
    listener.stop();
    engine.close();
  }
}

async function measurePasta(ports: Ports): Promise<Measurement> {
  const label = "pasta";
  const pasta = Bun.which("pasta");
  if (pasta === null) return { label, note: "not measured (pasta not found; apt-get install passt)" };
  const result = await runCommand(
    [
      pasta,
      "--runas",
      "0",
      "--config-net",
      "--quiet",
      "--",
      process.execPath,
      "-e",
      clientScript("gateway", ports),
    ],
    CLIENT_TIMEOUT_MS,
  );
  const measurement = toMeasurement(label, result);
  if (measurement.note !== undefined) measurement.note = `not measured (${measurement.note})`;
  return measurement;
}

const activeGuests = new Set<{ destroy(): Promise<void> }>();

function fmt(value: number | undefined, digits = 0): string {
  return value === undefined ? "-" : value.toFixed(digits);
}

async function main(): Promise<void> {
  if (process.platform !== "linux" || process.getuid?.() !== 0) {
    console.error("bench/net.ts needs root on Linux (network namespaces and a TAP device)");
    process.exit(1);
  }
  const workDir = mkdtempSync(join(tmpdir(), "msb-bench-net-"));
  const server = Bun.spawn([process.execPath, "-e", SERVER], {
    cwd: REPO_ROOT,
    stdout: "pipe",
    stderr: "inherit",
  });
  const cleanup = async () => {
    for (const guest of activeGuests) await guest.destroy();
    server.kill("SIGKILL");
    rmSync(workDir, { recursive: true, force: true });
  };
  process.on("SIGINT", () => void cleanup().then(() => process.exit(130)));
  try {
    const reader = server.stdout.getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("host server exited before listening");
      text += new TextDecoder().decode(value);
    }
    reader.releaseLock();
    const ports = JSON.parse(text.split("\n")[0]!) as Ports;
    console.log(
      `${BYTES / MB} MB per transfer, ${ROUND_TRIPS} round trips; host server in its own process\n`,
    );
    const results: Measurement[] = [];
    const report = (m: Measurement) => {
      results.push(m);
      console.log(`  measured: ${m.label}${m.note ? ` — ${m.note}` : ""}`);
    };
    report(
      toMeasurement(
        "host loopback",
        await runCommand([process.execPath, "-e", clientScript("127.0.0.1", ports)], CLIENT_TIMEOUT_MS),
      ),
    );
    report(await measureEngine(1500, ports, workDir));
    report(await measureEngine(65520, ports, workDir));
    report(await measurePasta(ports));

    const header = [
      "path",
      "guest→host MB/s",
      "Gbit/s",
      "host→guest MB/s",
      "Gbit/s",
      "RTT median µs",
      "RTT p95 µs",
    ];
    const rows = results.map((m) =>
      m.note !== undefined && m.upMBs === undefined
        ? [m.label, m.note]
        : [
            m.label,
            fmt(m.upMBs),
            fmt(m.upMBs && (m.upMBs * MB * 8) / 1e9, 2),
            fmt(m.downMBs),
            fmt(m.downMBs && (m.downMBs * MB * 8) / 1e9, 2),
            fmt(m.rttMedianUs),
            fmt(m.rttP95Us),
          ],
    );
    const widths = header.map((h, i) =>
      Math.max(h.length, ...rows.filter((r) => r.length > 2).map((r) => (r[i] ?? "").length)),
    );
    console.log();
    console.log(header.map((h, i) => h.padEnd(widths[i]!)).join("  "));
    for (const row of rows) {
      console.log(
        row.length === 2
          ? `${row[0]!.padEnd(widths[0]!)}  ${row[1]}`
          : row.map((c, i) => c.padEnd(widths[i]!)).join("  "),
      );
    }

    const loopback = results[0]!;
    const big = results[2]!;
    const pasta = results[3]!;
    const gbits = (mbs: number | undefined) => (mbs === undefined ? undefined : (mbs * MB * 8) / 1e9);
    const verdict = (ok: boolean | undefined) => (ok === undefined ? "n/a " : ok ? "PASS" : "MISS");
    console.log("\nAims (engine at MTU 65520):");
    for (const [direction, value] of [
      ["guest→host", gbits(big.upMBs)],
      ["host→guest", gbits(big.downMBs)],
    ] as const) {
      console.log(
        `  ${verdict(value === undefined ? undefined : value >= AIM_GBITS)}  ${direction} ≥ ${AIM_GBITS} Gbit/s: ${fmt(value, 2)} Gbit/s`,
      );
    }
    for (const [direction, engineValue, pastaValue] of [
      ["guest→host", big.upMBs, pasta.upMBs],
      ["host→guest", big.downMBs, pasta.downMBs],
    ] as const) {
      const ok =
        engineValue === undefined || pastaValue === undefined
          ? undefined
          : engineValue >= AIM_PASTA_FRACTION * pastaValue;
      console.log(
        `  ${verdict(ok)}  ${direction} ≥ ${AIM_PASTA_FRACTION} × pasta: ${fmt(engineValue)} vs ${fmt(pastaValue)} MB/s${pastaValue === undefined ? ` (pasta: ${pasta.note ?? "not measured"})` : ""}`,
      );
    }
    for (const m of [results[1]!, big]) {
      const added =
        m.rttMedianUs === undefined || loopback.rttMedianUs === undefined
          ? undefined
          : m.rttMedianUs - loopback.rttMedianUs;
      console.log(
        `  ${verdict(added === undefined ? undefined : added < AIM_ADDED_RTT_US)}  ${m.label}: < ${AIM_ADDED_RTT_US} µs added per round trip (median vs loopback): ${fmt(added)} µs`,
      );
    }
  } finally {
    await cleanup();
  }
}

await main();
