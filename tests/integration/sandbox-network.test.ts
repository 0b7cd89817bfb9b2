// Sandboxes behind the network engine, end to end with the compiled binary: eth0 configured,
// public-only egress by default (private and host addresses refused at once, the denial in the
// sandbox's log), `--net-rule allow@host` reaching a server on the host's loopback, DNS block
// lists answered NXDOMAIN, bad network flags refused before anything exists, --no-network.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type SandboxEnv, sandboxSkipReason, setupSandboxEnv } from "../helpers/sandbox-fixtures.ts";

const skipReason = sandboxSkipReason("sandbox network");
const TEST_TIMEOUT_MS = 60_000;

describe.skipIf(skipReason !== undefined)("sandbox network (namespace backend)", () => {
  let env: SandboxEnv;
  let server: ReturnType<typeof Bun.serve>;
  const sh = (script: string, flags: string[] = []) =>
    env.msb(["run", ...flags, env.image, "--", "sh", "-c", script]);

  beforeAll(async () => {
    env = await setupSandboxEnv();
    server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () => new Response("hello from the host\n"),
    });
  }, 120_000);

  afterAll(async () => {
    server?.stop(true);
    await env?.cleanup();
  }, 120_000);

  test(
    "the guest gets eth0 with its address, a default route and the gateway as DNS server",
    async () => {
      const result = await sh("ls /sys/class/net; ip addr show eth0; ip route; cat /etc/resolv.conf");
      expect(result.code).toBe(0);
      expect(result.stdout).toContain("eth0\nlo\n");
      expect(result.stdout).toContain("inet 100.96.0.2/30");
      expect(result.stdout).toContain("default via 100.96.0.1 dev eth0");
      expect(result.stdout).toContain("nameserver 100.96.0.1");
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "private, link-local and host addresses are refused at once by default",
    async () => {
      const started = performance.now();
      const result = await sh(
        `for target in 10.200.0.1 169.254.169.254 100.96.0.1:${server.port}; do wget -qO- http://$target/ 2>&1; done`,
      );
      expect(result.stdout.match(/Connection refused/g)?.length).toBe(3);
      expect(result.stdout).not.toContain("hello from the host");
      expect(performance.now() - started).toBeLessThan(10_000);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "--net-rule allow@host reaches a server on the host's loopback through the gateway",
    async () => {
      const result = await sh(`wget -qO- http://100.96.0.1:${server.port}/`, ["--net-rule", "allow@host"]);
      expect(result.stdout).toBe("hello from the host\n");
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "denials are written to the sandbox's log with destination and rule",
    async () => {
      await env.msbOk(["create", "--name", "logged", env.image]);
      await env.msb(["exec", "logged", "--", "wget", "-qO-", "http://10.200.0.1:8080/"]);
      const log = readFileSync(join(env.home.path, "sandboxes/logged/logs/supervisor.log"), "utf8");
      expect(log).toContain("deny tcp 10.200.0.1:8080 (default: deny private)");
      await env.msbOk(["rm", "-f", "logged"]);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "--dns-block-domain answers NXDOMAIN for the domain and its subdomains",
    async () => {
      const result = await sh("nslookup api.blocked.test 100.96.0.1 2>&1; echo status=$?", [
        "--dns-block-domain",
        "blocked.test",
      ]);
      expect(result.stdout).toMatch(/NXDOMAIN|can't find/);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "-p publishes a guest port on the host's loopback, listed by ps, and a taken port is refused",
    async () => {
      const hostPort = 18_100 + Math.floor(Math.random() * 800);
      await env.msbOk(["create", "--name", "web", "-p", `${hostPort}:8000`, env.image]);
      await env.msbOk([
        "exec",
        "web",
        "--",
        "sh",
        "-c",
        "mkdir -p /www && echo published > /www/index.html && httpd -p 8000 -h /www",
      ]);
      let body = "";
      for (let attempt = 0; attempt < 20 && body === ""; attempt++) {
        body = await fetch(`http://127.0.0.1:${hostPort}/index.html`)
          .then((response) => response.text())
          .catch(() => "");
        if (body === "") await Bun.sleep(100);
      }
      expect(body).toBe("published\n");
      expect((await env.msbOk(["ps"])).stdout).toContain(`127.0.0.1:${hostPort}->8000/tcp`);
      const taken = await env.msb(["create", "--name", "web2", "-p", `${hostPort}:80`, env.image]);
      expect(taken.code).toBe(4);
      expect(taken.stderr).toContain(`host port 127.0.0.1:${hostPort}/tcp is not available`);
      expect((await env.msb(["ls", "-q"])).stdout).toBe("web\n");
      await env.msbOk(["rm", "-f", "web"]);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "--no-network leaves only lo",
    async () => {
      const result = await sh("ls /sys/class/net", ["--no-network"]);
      expect(result.stdout).toBe("lo\n");
    },
    TEST_TIMEOUT_MS,
  );

  test.each([
    [["--net-rule", "maybe@10.0.0.0/8"]],
    [["--dns-block-domain", "not a domain"]],
    [["--dns-nameserver", "nowhere"]],
    [["--max-connections", "0"]],
    [["--no-network", "--net-rule", "allow@host"]],
    [["-p", "8080"]],
    [["-p", "8080:80/sctp"]],
  ])(
    "%p is refused before anything is created",
    async (flags) => {
      const result = await env.msb(["create", "--name", "badnet", ...flags, env.image]);
      expect(result.code).toBe(2);
      expect(result.stderr).toStartWith("error: ");
      expect((await env.msb(["ls", "-q"])).stdout).toBe("");
    },
    TEST_TIMEOUT_MS,
  );
});
