// End to end through a real Linux network stack: a network namespace plays the guest (TAP device
// configured like eth0, the TAP relay joining it to net.sock) and a NetworkEngine in this process
// plays the supervisor. Checks gateway ping, TCP to host loopback through allow@host (10 MB each
// way, sha256-compared), immediate refusal of a denied destination, DNS over UDP and TCP through
// a fake upstream, and UDP NAT.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { udp } from "bun";
import dnsPacket from "dns-packet";
import type { NetworkEngine } from "../../src/network/engine/network-engine.ts";
import { type GuestLinkListener, listenForGuestLink } from "../../src/network/engine/stream-link.ts";
import { networkPlan } from "../../src/network/plan.ts";
import { createNetworkEngine } from "../../src/supervisor/start-network.ts";
import { createGuestNamespace, type GuestNamespace } from "../helpers/netns.ts";
import { announceSkip, firstSkipReason, requireLinux, requireRoot, requireTool } from "../helpers/skip.ts";

const skipReason = announceSkip(
  "net-engine netns",
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
const RESOLVED_ADDRESS = "93.184.216.34";
const TEN_MB = 10 * 1024 * 1024;

describe.skipIf(skipReason !== undefined)("network engine with a namespace as the guest", () => {
  let workDir: string;
  let guest: GuestNamespace;
  let engine: NetworkEngine;
  let listener: GuestLinkListener;
  let echoServer: net.Server;
  let echoPort: number;
  const echoReceivedHashes: string[] = [];
  let udpEcho: udp.Socket<"buffer">;
  let fakeUpstream: udp.Socket<"buffer">;
  const logLines: string[] = [];

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "msb-net-engine-"));
    echoServer = net.createServer({ allowHalfOpen: true }, (socket) => {
      const hash = createHash("sha256");
      socket.on("data", (chunk) => hash.update(chunk));
      socket.on("end", () => echoReceivedHashes.push(hash.digest("hex")));
      socket.pipe(socket);
    });
    await new Promise<void>((resolve) => echoServer.listen(0, "127.0.0.1", resolve));
    echoPort = (echoServer.address() as net.AddressInfo).port;
    udpEcho = await Bun.udpSocket({
      hostname: "127.0.0.1",
      socket: {
        data(socket, data, port, address) {
          socket.send(Buffer.concat([Buffer.from("echo:"), data]), port, address);
        },
      },
    });
    fakeUpstream = await Bun.udpSocket({
      hostname: "127.0.0.1",
      socket: {
        data(socket, data, port, address) {
          const query = dnsPacket.decode(data);
          const question = query.questions![0]!;
          const answer = dnsPacket.encode({
            type: "response",
            id: query.id,
            flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
            questions: query.questions,
            answers: [{ type: "A", name: question.name, ttl: 60, data: RESOLVED_ADDRESS }],
          });
          socket.send(answer, port, address);
        },
      },
    });
    engine = createNetworkEngine(
      {
        rules: ["allow@host"],
        blockedDomains: [],
        nameservers: [`127.0.0.1:${fakeUpstream.port}`],
        rebindProtection: true,
        maxConnections: 256,
      },
      plan,
      (line) => logLines.push(line),
    );
    const socketPath = join(workDir, "net.sock");
    listener = listenForGuestLink(socketPath, engine);
    guest = await createGuestNamespace(plan);
    guest.startRelay(socketPath);
  });

  afterAll(async () => {
    await guest?.destroy();
    listener?.stop();
    engine?.close();
    echoServer?.close();
    udpEcho?.close();
    fakeUpstream?.close();
    if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
  });

  test("the gateway answers ping", async () => {
    // The relay may still be starting: the first pings can go unanswered.
    let result = await guest.exec(["busybox", "ping", "-c1", "-W1", GATEWAY], 5000);
    for (let attempt = 0; attempt < 10 && result.exitCode !== 0; attempt++) {
      result = await guest.exec(["busybox", "ping", "-c1", "-W1", GATEWAY], 5000);
    }
    expect(result.stdout).toContain("1 packets received");
  });

  test("TCP to host loopback through allow@host carries 10 MB each way intact", async () => {
    const result = await guest.runScript(`
      import net from "node:net";
      import { createHash, randomBytes } from "node:crypto";
      const data = randomBytes(${TEN_MB});
      const sent = createHash("sha256").update(data).digest("hex");
      const received = createHash("sha256");
      let bytes = 0;
      const socket = net.createConnection({ host: ${JSON.stringify(GATEWAY)}, port: ${echoPort} }, () => socket.end(data));
      socket.on("data", (chunk) => { received.update(chunk); bytes += chunk.length; });
      socket.on("error", (error) => { console.log(JSON.stringify({ error: error.code })); process.exit(1); });
      socket.on("close", () => console.log(JSON.stringify({ sent, received: received.digest("hex"), bytes })));
    `);
    const outcome = JSON.parse(result.stdout.trim());
    expect(outcome.bytes).toBe(TEN_MB);
    expect(outcome.received).toBe(outcome.sent);
    expect(echoReceivedHashes).toContain(outcome.sent);
  });

  test("a denied destination is refused at once and logged", async () => {
    const result = await guest.runScript(`
      import net from "node:net";
      const started = performance.now();
      const socket = net.createConnection({ host: "10.200.0.1", port: 80 });
      socket.on("connect", () => { console.log(JSON.stringify({ connected: true })); socket.destroy(); });
      socket.on("error", (error) => console.log(JSON.stringify({ error: error.code, ms: performance.now() - started })));
    `);
    const outcome = JSON.parse(result.stdout.trim());
    expect(outcome.error).toBe("ECONNREFUSED");
    expect(outcome.ms).toBeLessThan(1000);
    expect(logLines).toContain("deny tcp 10.200.0.1:80 (default: deny private)");
  });

  test("an allowed connect the host refuses reaches the guest as a refusal", async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const result = await guest.runScript(`
      import net from "node:net";
      const socket = net.createConnection({ host: ${JSON.stringify(GATEWAY)}, port: ${closedPort} });
      socket.on("connect", () => { console.log(JSON.stringify({ connected: true })); socket.destroy(); });
      socket.on("error", (error) => console.log(JSON.stringify({ error: error.code })));
    `);
    expect(JSON.parse(result.stdout.trim())).toEqual({ error: "ECONNREFUSED" });
  });

  test("DNS over UDP is answered at the gateway and at any address, and over TCP", async () => {
    const result = await guest.runScript(`
      import dgram from "node:dgram";
      import net from "node:net";
      import dnsPacket from "dns-packet";
      const query = (id) => ({ type: "query", id, flags: dnsPacket.RECURSION_DESIRED,
        questions: [{ type: "A", name: "example.test" }] });
      const overUdp = (server) => new Promise((resolve) => {
        const socket = dgram.createSocket("udp4");
        socket.on("message", (message, remote) => {
          socket.close();
          resolve({ from: remote.address, port: remote.port, answers: dnsPacket.decode(message).answers.map((a) => a.data) });
        });
        socket.send(dnsPacket.encode(query(7)), 53, server);
      });
      const overTcp = () => new Promise((resolve) => {
        const socket = net.createConnection({ host: ${JSON.stringify(GATEWAY)}, port: 53 }, () => socket.end(dnsPacket.streamEncode(query(9))));
        const chunks = [];
        socket.on("data", (chunk) => chunks.push(chunk));
        socket.on("close", () => resolve({ answers: dnsPacket.streamDecode(Buffer.concat(chunks)).answers.map((a) => a.data) }));
      });
      console.log(JSON.stringify({ gateway: await overUdp(${JSON.stringify(GATEWAY)}), other: await overUdp("192.0.2.53"), tcp: await overTcp() }));
    `);
    const outcome = JSON.parse(result.stdout.trim());
    expect(outcome.gateway).toEqual({ from: GATEWAY, port: 53, answers: [RESOLVED_ADDRESS] });
    expect(outcome.other).toEqual({ from: "192.0.2.53", port: 53, answers: [RESOLVED_ADDRESS] });
    expect(outcome.tcp).toEqual({ answers: [RESOLVED_ADDRESS] });
  });

  test("UDP to host loopback through allow@host is NATed both ways", async () => {
    const result = await guest.runScript(
      `
      import dgram from "node:dgram";
      const socket = dgram.createSocket("udp4");
      socket.on("message", (message, remote) => {
        console.log(JSON.stringify({ text: message.toString(), from: remote.address, port: remote.port }));
        socket.close();
      });
      socket.send("hello", ${udpEcho.port}, ${JSON.stringify(GATEWAY)});
    `,
      10_000,
    );
    expect(JSON.parse(result.stdout.trim())).toEqual({
      text: "echo:hello",
      from: GATEWAY,
      port: udpEcho.port,
    });
  });

  test("published TCP and UDP ports reach servers in the guest", async () => {
    const hostTcp = 18_500 + Math.floor(Math.random() * 500);
    const hostUdp = hostTcp + 1;
    await engine.publish([
      { bindAddress: "127.0.0.1", hostPort: hostTcp, guestPort: 7000, protocol: "tcp" },
      { bindAddress: "127.0.0.1", hostPort: hostUdp, guestPort: 7001, protocol: "udp" },
    ]);
    const servers = guest.runScript(
      `
      import dgram from "node:dgram";
      const udp = dgram.createSocket("udp4");
      udp.on("message", (message, remote) => udp.send(\`udp:\${message}\`, remote.port, remote.address));
      udp.bind(7001, "0.0.0.0");
      Bun.listen({ hostname: "0.0.0.0", port: 7000, socket: { data(socket, chunk) { socket.write(\`tcp:\${chunk}\`); socket.end(); } } });
      setTimeout(() => process.exit(0), 4000);
    `,
      15_000,
    );
    await Bun.sleep(1500);
    const tcpReply = await new Promise<string>((resolve, reject) => {
      let text = "";
      Bun.connect({
        hostname: "127.0.0.1",
        port: hostTcp,
        socket: {
          open: (socket) => {
            socket.write("hi");
          },
          data: (_socket, chunk) => {
            text += new TextDecoder().decode(chunk);
          },
          close: () => resolve(text),
          error: (_socket, error) => reject(error),
        },
      }).catch(reject);
    });
    expect(tcpReply).toBe("tcp:hi");
    const udpReply = await new Promise<string>((resolve) => {
      void Bun.udpSocket({
        socket: {
          data(socket, data) {
            resolve(new TextDecoder().decode(data));
            socket.close();
          },
        },
      }).then((socket) => socket.send("hey", hostUdp, "127.0.0.1"));
    });
    expect(udpReply).toBe("udp:hey");
    await servers;
  });
});
