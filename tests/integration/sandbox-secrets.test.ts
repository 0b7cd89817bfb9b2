// Secrets through a real sandbox (namespace backend, compiled binary): HTTPS servers started
// here with their own CA (--tls-upstream-ca-cert) record what reaches them; a DNS server here
// names them; the guest runs the host's curl. The value reaches only the scoped server (header,
// Basic auth, query, keep-alive, chunked :body, split across TLS records); the guest, MSB_HOME
// and every process's argv and environment never hold it; other hosts, plain HTTP and split
// plain segments are blocked and logged; block-and-terminate stops the sandbox; a bypassed
// domain keeps its own certificate; start re-reads or asks for the values.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  hostArchitecture,
  layerFromEntries,
  makeImage,
  pushImage,
  type TarEntry,
} from "../helpers/image-builder.ts";
import { type TempDir, tempDir } from "../helpers/msb-cli.ts";
import {
  busyboxRootLayer,
  inspectSandbox,
  PATH_ENV,
  type SandboxEnv,
  sandboxSkipReason,
  setupSandboxEnv,
  waitForStatus,
} from "../helpers/sandbox-fixtures.ts";
import { announceSkip, firstSkipReason, requireTool } from "../helpers/skip.ts";

const skipReason =
  sandboxSkipReason("sandbox secrets") ??
  announceSkip(
    "sandbox secrets",
    firstSkipReason(
      requireTool("openssl", "apt-get install openssl"),
      requireTool("curl", "apt-get install curl"),
    ),
  );
const TEST_TIMEOUT_MS = 90_000;
const GATEWAY = "100.96.0.1";
const KEY_VALUE = "sk-live-Value+/=0123456789abcdefSECRET";
const BODY_VALUE = "body-secret-9f8e7d6c5b4a";

interface Received {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  remotePort: number;
}

describe.skipIf(skipReason !== undefined)("sandbox secrets (namespace backend)", () => {
  let env: SandboxEnv;
  let certs: TempDir;
  let image: string;
  let dns: Bun.udp.Socket<"buffer">;
  const servers: Record<
    "api" | "other" | "bypass" | "plain",
    { server: ReturnType<typeof Bun.serve>; seen: Received[] }
  > = {} as never;
  const secretEnv = { KEY: KEY_VALUE, BODY: BODY_VALUE };

  const port = (name: keyof typeof servers) => servers[name].server.port;
  const sandboxFlags = (extra: string[] = []) => [
    "--net-rule",
    "allow@host",
    "--dns-nameserver",
    `127.0.0.1:${dns.port}`,
    "--tls-intercept-port",
    String(port("api")),
    "--tls-intercept-port",
    String(port("other")),
    "--tls-intercept-port",
    String(port("bypass")),
    "--tls-bypass",
    "bypass.test",
    "--tls-upstream-ca-cert",
    join(certs.path, "ca.pem"),
    "--secret",
    "KEY@api.test",
    "--secret",
    "BODY@api.test:body",
    ...extra,
  ];
  const create = (name: string, extra: string[] = []) =>
    env.msbOk(["create", "--name", name, ...sandboxFlags(extra), image], { env: secretEnv });
  const sh = (name: string, script: string) => env.msb(["exec", name, "--", "sh", "-c", script]);
  const supervisorLog = (name: string) =>
    readFileSync(join(env.home.path, "sandboxes", name, "logs", "supervisor.log"), "utf8");

  beforeAll(async () => {
    env = await setupSandboxEnv();
    certs = await tempDir("msb-sec-certs");
    makeCertificates(certs.path);
    servers.api = recordingServer(certs.path, "upstream");
    servers.other = recordingServer(certs.path, "upstream");
    servers.bypass = recordingServer(certs.path, "bypass");
    servers.plain = recordingServer(certs.path, null);
    dns = await Bun.udpSocket({
      hostname: "127.0.0.1",
      socket: {
        data(socket, query, port, address) {
          socket.send(dnsAnswer(query, ["api.test", "other.test", "bypass.test"], GATEWAY), port, address);
        },
      },
    });
    const pushed = await pushImage(
      { url: env.registry.url },
      "test/curl",
      "latest",
      await curlImage(certs.path),
    );
    await env.msbOk(["pull", "-q", pushed.reference]);
    image = pushed.reference;
  }, 180_000);

  afterAll(async () => {
    for (const { server } of Object.values(servers)) server?.stop(true);
    dns?.close();
    await env?.cleanup();
    await certs?.remove();
  }, 120_000);

  test(
    "the scoped server gets the value in a header, Basic auth and the query; the guest only the placeholder",
    async () => {
      await create("sec");
      const placeholder = (await inspectSandbox(env, "sec")).config.env.find((entry) =>
        entry.startsWith("KEY="),
      );
      expect(placeholder).toMatch(/^KEY=msb_ph_KEY_[0-9a-f]{32}$/);
      const result = await sh(
        "sec",
        `curl -sS -u "user:$KEY" -H "X-Api-Key: $KEY" "https://api.test:${port("api")}/q?key=$KEY" && echo "$KEY" > /root/written && env | grep ^KEY= && echo "$CURL_CA_BUNDLE $NODE_EXTRA_CA_CERTS" && cat /proc/*/environ | tr '\\0' '\\n' | grep -c msb_ph_KEY_`,
      );
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`ok /q${placeholder}\n`);
      expect(result.stdout).toContain(
        "/etc/ssl/certs/ca-certificates.crt /usr/local/share/ca-certificates/msb-tls-intercept.crt\n",
      );
      expect(result.stdout).not.toContain(KEY_VALUE);
      const seen = servers.api.seen.at(-1)!;
      expect(seen.headers["x-api-key"]).toBe(KEY_VALUE);
      expect(seen.headers.authorization).toBe(`Basic ${Buffer.from(`user:${KEY_VALUE}`).toString("base64")}`);
      expect(new URL(seen.url).searchParams.get("key")).toBe(KEY_VALUE);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "keep-alive: every request on one connection is substituted",
    async () => {
      const base = `https://api.test:${port("api")}`;
      const before = servers.api.seen.length;
      const result = await sh("sec", `curl -sS -H "X-Api-Key: $KEY" ${base}/one ${base}/two ${base}/three`);
      expect(result.stdout).toBe("ok /oneok /twook /three");
      const seen = servers.api.seen.slice(before);
      expect(seen.map((request) => request.headers["x-api-key"])).toEqual([KEY_VALUE, KEY_VALUE, KEY_VALUE]);
      expect(new Set(seen.map((request) => request.remotePort)).size).toBe(1);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "a chunked body with a :body secret is substituted and re-chunked",
    async () => {
      const result = await sh(
        "sec",
        `printf 'token=%s&n=1' "$BODY" > /tmp/body && curl -sS -H "Transfer-Encoding: chunked" --data-binary @/tmp/body https://api.test:${port("api")}/body`,
      );
      expect(result.stdout).toBe("ok /body");
      expect(servers.api.seen.at(-1)!.body).toBe(`token=${BODY_VALUE}&n=1`);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "a placeholder that straddles two TLS records is still substituted",
    async () => {
      // curl sends the body in 16 KiB TLS records; the pad puts the record boundary mid-placeholder.
      const pad = 16_384 - 20;
      const result = await sh(
        "sec",
        `head -c ${pad} /dev/zero | tr '\\0' p > /tmp/split && printf '%s' "$BODY" >> /tmp/split && curl -sS --data-binary @/tmp/split https://api.test:${port("api")}/split 2>&1`,
      );
      expect(result.stdout).toBe("ok /split");
      expect(servers.api.seen.at(-1)!.body).toBe(`${"p".repeat(pad)}${BODY_VALUE}`);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "a server out of the secret's scope gets nothing, and the violation is logged",
    async () => {
      const result = await sh("sec", `curl -sS -H "X-Api-Key: $KEY" https://other.test:${port("other")}/`);
      expect(result.code).not.toBe(0);
      expect(servers.other.seen).toHaveLength(0);
      expect(supervisorLog("sec")).toMatch(
        /secret violation: KEY's placeholder in a request head to other\.test/,
      );
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "plain HTTP carrying the placeholder is blocked, also split across two TCP segments",
    async () => {
      const url = `http://api.test:${port("plain")}/`;
      const whole = await sh("sec", `curl -sS -H "X-Api-Key: $KEY" ${url}`);
      expect(whole.code).not.toBe(0);
      const split = await sh(
        "sec",
        `(printf 'GET / HTTP/1.1\\r\\nHost: api.test\\r\\nX-K: %s' "\${KEY%????????????????????}"; sleep 1; printf '%s\\r\\n\\r\\n' "\${KEY#\${KEY%????????????????????}}"; sleep 1) | nc api.test ${port("plain")}`,
      );
      expect(split.stdout).toBe("");
      expect(servers.plain.seen).toHaveLength(0);
      expect(supervisorLog("sec")).toMatch(/KEY's placeholder in a plain connection to api\.test/);
      const clean = await sh("sec", `curl -sS ${url}`);
      expect(clean.stdout).toBe("ok /");
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "a bypassed domain is spliced: the guest sees the server's own certificate",
    async () => {
      const result = await sh("sec", `curl -sS -v https://bypass.test:${port("bypass")}/b 2>&1`);
      expect(result.stdout).toContain("ok /b");
      expect(result.stdout).toContain("issuer: CN=msb test bypass CA");
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "inspect shows the secret's name and hosts, and no value is in MSB_HOME or any process",
    async () => {
      const inspect = await env.msbOk(["inspect", "sec"]);
      expect(inspect.stdout).toContain("KEY → api.test");
      expect(inspect.stdout).toContain("BODY → api.test (body too)");
      const json = await env.msbOk(["inspect", "sec", "--format", "json"]);
      for (const output of [inspect.stdout, json.stdout, (await env.msbOk(["ps"])).stdout]) {
        expect(output).not.toContain(KEY_VALUE);
      }
      // The search does see what the guest wrote: its placeholder, in the sandbox's disk.
      await sh("sec", "sync");
      const placeholder = (await inspectSandbox(env, "sec")).config.env.find((entry) =>
        entry.startsWith("KEY="),
      )!;
      expect(filesContaining(env.home.path, placeholder.slice(4))).toContain(
        join(env.home.path, "sandboxes", "sec", "upper.ext4"),
      );
      for (const value of [KEY_VALUE, BODY_VALUE]) {
        expect(filesContaining(env.home.path, value)).toEqual([]);
        expect(processesContaining(value)).toEqual([]);
      }
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "start reads env-sourced values again, and asks for a literal one",
    async () => {
      await env.msbOk(["stop", "sec"]);
      const missing = await env.msb(["start", "sec"]);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain("--secret KEY reads $KEY from your environment, but it is not set");
      await env.msbOk(["start", "sec"], { env: secretEnv });
      const result = await sh("sec", `curl -sS -H "X-Api-Key: $KEY" https://api.test:${port("api")}/again`);
      expect(result.stdout).toBe("ok /again");
      expect(servers.api.seen.at(-1)!.headers["x-api-key"]).toBe(KEY_VALUE);

      await env.msbOk(
        ["create", "--name", "lit", ...sandboxFlags(["--secret", "LIT=literal-value-42@api.test"]), image],
        {
          env: secretEnv,
        },
      );
      await env.msbOk(["stop", "lit"]);
      const literal = await env.msb(["start", "lit"], { env: secretEnv });
      expect(literal.code).toBe(2);
      expect(literal.stderr).toContain("secret LIT of sandbox lit was given as a value and is not kept");
      await env.msbOk(["start", "lit", "--secret", "LIT=literal-value-42"], { env: secretEnv });
      const again = await sh("lit", `curl -sS -H "X-Lit: $LIT" https://api.test:${port("api")}/lit`);
      expect(again.stdout).toBe("ok /lit");
      expect(servers.api.seen.at(-1)!.headers["x-lit"]).toBe("literal-value-42");
      await env.msbOk(["rm", "-f", "lit"]);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "block-and-terminate stops the sandbox",
    async () => {
      await create("strict", ["--secret-violation", "block-and-terminate"]);
      await sh("strict", `curl -sS -H "X-Api-Key: $KEY" https://other.test:${port("other")}/`);
      expect(await waitForStatus(env, "strict", ["stopped"])).toBe("stopped");
      expect((await inspectSandbox(env, "strict")).exit_reason).toBe("secret-violation");
      expect(servers.other.seen).toHaveLength(0);
      await env.msbOk(["rm", "-f", "strict"]);
    },
    TEST_TIMEOUT_MS,
  );
});

/** A test CA and a leaf for api.test/other.test; a second CA and a leaf for bypass.test. */
function makeCertificates(dir: string): void {
  const openssl = (...args: string[]) => {
    const result = Bun.spawnSync(["openssl", ...args], { cwd: dir, stderr: "pipe" });
    if (result.exitCode !== 0) throw new Error(`openssl ${args.join(" ")}: ${result.stderr.toString()}`);
  };
  const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  for (const [prefix, names] of [
    ["upstream", "DNS:api.test,DNS:other.test"],
    ["bypass", "DNS:bypass.test"],
  ] as const) {
    const ca = prefix === "upstream" ? "ca" : "bypass-ca";
    const cn = prefix === "upstream" ? "msb test upstream CA" : "msb test bypass CA";
    openssl(
      "req",
      "-x509",
      ...ecKey,
      "-keyout",
      `${ca}.key`,
      "-out",
      `${ca}.pem`,
      "-days",
      "2",
      "-subj",
      `/CN=${cn}`,
    );
    openssl("req", ...ecKey, "-keyout", `${prefix}.key`, "-out", `${prefix}.csr`, "-subj", `/CN=${prefix}`);
    writeFileSync(join(dir, `${prefix}.ext`), `subjectAltName=${names}\n`);
    openssl(
      "x509",
      "-req",
      "-in",
      `${prefix}.csr`,
      "-CA",
      `${ca}.pem`,
      "-CAkey",
      `${ca}.key`,
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      `${prefix}.ext`,
      "-out",
      `${prefix}.pem`,
    );
  }
}

function recordingServer(dir: string, cert: "upstream" | "bypass" | null) {
  const seen: Received[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    ...(cert === null
      ? {}
      : {
          tls: {
            cert: readFileSync(join(dir, `${cert}.pem`), "utf8"),
            key: readFileSync(join(dir, `${cert}.key`), "utf8"),
          },
        }),
    async fetch(request, server) {
      seen.push({
        method: request.method,
        url: request.url,
        headers: Object.fromEntries(request.headers),
        body: await request.text(),
        remotePort: server.requestIP(request)?.port ?? 0,
      });
      return new Response(`ok ${new URL(request.url).pathname}`);
    },
  });
  return { server, seen };
}

/** An A answer (the gateway) for the test's names, NXDOMAIN otherwise, no AAAA records. */
function dnsAnswer(query: Uint8Array, names: string[], ip: string): Uint8Array {
  const q = Buffer.from(query);
  let at = 12;
  const labels: string[] = [];
  while (q[at]! > 0) {
    labels.push(q.subarray(at + 1, at + 1 + q[at]!).toString("latin1"));
    at += q[at]! + 1;
  }
  const question = q.subarray(12, at + 5);
  const type = q.readUInt16BE(at + 1);
  const known = names.includes(labels.join(".").toLowerCase());
  const header = Buffer.alloc(12);
  q.copy(header, 0, 0, 2);
  header.writeUInt16BE(known ? 0x8180 : 0x8183, 2);
  header.writeUInt16BE(1, 4);
  const answer = known && type === 1;
  header.writeUInt16BE(answer ? 1 : 0, 6);
  const record = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ...ip.split(".").map(Number)]);
  return Buffer.concat([header, question, answer ? record : Buffer.alloc(0)]);
}

/** The busybox root, the host's curl with its libraries, and a system bundle with the bypass CA. */
async function curlImage(certDir: string) {
  const ldd = Bun.spawnSync(["ldd", "/usr/bin/curl"]).stdout.toString();
  const libraries = [...ldd.matchAll(/(\/\S+) \(0x/g)].map((match) => match[1]!);
  const dirs = new Set<string>(["usr", "usr/bin", "etc/ssl", "etc/ssl/certs"]);
  for (const library of libraries) {
    const parts = library.slice(1).split("/");
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  const entries: TarEntry[] = [
    ...[...dirs].sort().map((path): TarEntry => ({ type: "dir", path })),
    { type: "file", path: "usr/bin/curl", data: readFileSync("/usr/bin/curl"), mode: 0o755 },
    ...libraries.map(
      (library): TarEntry => ({
        type: "file",
        path: library.slice(1),
        data: readFileSync(realpathSync(library)),
        mode: 0o755,
      }),
    ),
    {
      type: "file",
      path: "etc/ssl/certs/ca-certificates.crt",
      data: readFileSync(join(certDir, "bypass-ca.pem")),
    },
  ];
  return makeImage([await busyboxRootLayer(), layerFromEntries(entries)], {
    architecture: hostArchitecture(),
    cmd: ["/bin/sh"],
    env: [PATH_ENV],
  });
}

/** Every file under `dir` whose bytes contain `value` (grep reads sparse disks as zeros). */
function filesContaining(dir: string, value: string): string[] {
  const result = Bun.spawnSync(["grep", "-r", "-l", "-a", "-F", value, dir]);
  return result.stdout.toString().split("\n").filter(Boolean);
}

/** Pids whose argv or environment contains `value` (the test process's own excepted). */
function processesContaining(value: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    for (const file of ["cmdline", "environ"]) {
      try {
        if (readFileSync(`/proc/${entry}/${file}`, "latin1").includes(value)) found.push(Number(entry));
      } catch {
        // Gone meanwhile, or not ours to read.
      }
    }
  }
  return found;
}
