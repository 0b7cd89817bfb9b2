// A real OCI registry on loopback for integration tests and the pull benchmark: Debian's
// docker-registry (distribution 2.8) with filesystem storage in a temp dir, optionally behind
// htpasswd basic auth. Its access log is kept so tests can count which blobs were fetched.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DOCKER_REGISTRY } from "./skip.ts";

export interface RegistryUser {
  user: string;
  password: string;
}

export interface LocalRegistry {
  /** `127.0.0.1:PORT`, the registry part of image references. */
  host: string;
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** Root of the registry's filesystem storage (to corrupt blobs on purpose). */
  storageDir: string;
  /** Path of the data file the registry serves for a blob digest. */
  blobDataPath(digest: string): string;
  /** Access-log request lines so far, e.g. `GET /v2/test/busybox/blobs/sha256:... HTTP/1.1`. */
  requests(): Promise<string[]>;
  stop(): Promise<void>;
}

const STARTUP_TIMEOUT_MS = 15_000;

export async function startRegistry(options: { htpasswd?: RegistryUser } = {}): Promise<LocalRegistry> {
  const workDir = await mkdtemp(join(tmpdir(), "msb-registry-"));
  const storageDir = join(workDir, "storage");
  const logPath = join(workDir, "registry.log");
  const accessLogPath = join(workDir, "access.log");
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const url = `http://${host}`;

  let authSection = "";
  if (options.htpasswd) {
    const htpasswdPath = join(workDir, "htpasswd");
    await writeFile(htpasswdPath, bcryptEntry(options.htpasswd));
    authSection = `auth:\n  htpasswd:\n    realm: msb-test\n    path: ${htpasswdPath}\n`;
  }
  const configPath = join(workDir, "config.yml");
  await writeFile(
    configPath,
    [
      "version: 0.1",
      "log:",
      "  level: warn",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${storageDir}`,
      "  delete:",
      "    enabled: true",
      "http:",
      `  addr: ${host}`,
      // A fixed secret silences the "generated random secret" warning on every start.
      "  secret: msb-test-secret",
      authSection,
    ].join("\n"),
  );

  // distribution writes its access log (combined format) to stdout and everything else to stderr.
  const server = Bun.spawn([DOCKER_REGISTRY, "serve", configPath], {
    stdin: "ignore",
    stdout: Bun.file(accessLogPath),
    stderr: Bun.file(logPath),
  });

  const stop = async () => {
    server.kill();
    await server.exited;
    await rm(workDir, { recursive: true, force: true });
  };

  try {
    await waitUntilServing(url, server, logPath, options.htpasswd ? 401 : 200);
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    host,
    url,
    storageDir,
    blobDataPath: (digest) => {
      const hex = digest.replace(/^sha256:/, "");
      return join(storageDir, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data");
    },
    requests: async () => {
      const log = await readFile(accessLogPath, "utf8").catch(() => "");
      return [...log.matchAll(/"((?:GET|HEAD|PUT|POST|PATCH|DELETE) [^"]+)"/g)].map((match) => match[1]!);
    },
    stop,
  };
}

/** How many times the access log shows a blob download (GET, not HEAD) of one of `digests`. */
export function countBlobGets(requests: string[], digests: string[]): number {
  return requests.filter(
    (line) => line.startsWith("GET /v2/") && digests.some((digest) => line.includes(`/blobs/${digest} `)),
  ).length;
}

/** A port nothing listens on right now: bind port 0, read the port, close. */
async function freePort(): Promise<number> {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

function bcryptEntry({ user, password }: RegistryUser): string {
  const result = Bun.spawnSync(["htpasswd", "-Bbn", user, password]);
  if (result.exitCode !== 0) throw new Error(`htpasswd failed: ${result.stderr.toString()}`);
  return result.stdout.toString();
}

async function waitUntilServing(
  url: string,
  server: Bun.Subprocess,
  logPath: string,
  expectedStatus: number,
): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) break;
    const status = await fetch(`${url}/v2/`).then(
      (response) => response.status,
      () => 0,
    );
    if (status === expectedStatus) return;
    await Bun.sleep(50);
  }
  const log = await readFile(logPath, "utf8").catch(() => "");
  throw new Error(`docker-registry did not start serving ${url}/v2/ (exit ${server.exitCode}):\n${log}`);
}
