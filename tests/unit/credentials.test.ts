import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  dockerConfigPath,
  listCredentials,
  lookupCredentials,
  removeCredentials,
  saveCredentials,
} from "../../src/image/credentials.ts";
import { type MsbPaths, msbPaths } from "../../src/paths.ts";

let dir = "";
let paths: MsbPaths;
/** An environment whose Docker config is absent unless a test writes one. */
let env: NodeJS.ProcessEnv;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "msb-credentials-"));
  paths = msbPaths(join(dir, "msb-home"));
  env = { HOME: join(dir, "home") };
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const mode = (path: string) => statSync(path).mode & 0o777;

function writeDockerConfig(path: string, auths: Record<string, unknown>): void {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, JSON.stringify({ auths, credsStore: "desktop" }));
}

describe("msb's store", () => {
  test("save writes a 0600 file atomically and lookup reads it back", () => {
    saveCredentials(paths, "GHCR.io", { username: "alice", password: "pw1" });
    expect(mode(paths.credentials)).toBe(0o600);
    expect(JSON.parse(readFileSync(paths.credentials, "utf8"))).toEqual({
      auths: { "ghcr.io": { username: "alice", password: "pw1" } },
    });
    expect(readdirSync(join(paths.credentials, ".."))).toEqual(["registries.json"]);
    expect(lookupCredentials(paths, "ghcr.io", env)).toEqual({ username: "alice", password: "pw1" });
  });

  test("saving again replaces the entry and tightens a loose mode", () => {
    saveCredentials(paths, "ghcr.io", { username: "alice", password: "pw1" });
    chmodSync(paths.credentials, 0o644);
    saveCredentials(paths, "ghcr.io", { username: "alice", password: "pw2" });
    expect(mode(paths.credentials)).toBe(0o600);
    expect(lookupCredentials(paths, "ghcr.io", env)?.password).toBe("pw2");
  });

  test("reading an existing loose file tightens it to 0600", () => {
    saveCredentials(paths, "ghcr.io", { username: "alice", password: "pw1" });
    chmodSync(paths.credentials, 0o644);
    lookupCredentials(paths, "ghcr.io", env);
    expect(mode(paths.credentials)).toBe(0o600);
  });

  test("Docker Hub aliases are one registry", () => {
    saveCredentials(paths, "index.docker.io", { username: "bob", password: "pw" });
    expect(lookupCredentials(paths, "docker.io", env)?.username).toBe("bob");
    expect(lookupCredentials(paths, "registry-1.docker.io", env)?.username).toBe("bob");
    expect(removeCredentials(paths, "https://index.docker.io/v1/")).toBe(true);
    expect(lookupCredentials(paths, "docker.io", env)).toBeUndefined();
  });

  test("remove reports whether anything was stored", () => {
    expect(removeCredentials(paths, "ghcr.io")).toBe(false);
    saveCredentials(paths, "ghcr.io", { username: "a", password: "b" });
    saveCredentials(paths, "quay.io", { username: "c", password: "d" });
    expect(removeCredentials(paths, "ghcr.io")).toBe(true);
    expect(removeCredentials(paths, "ghcr.io")).toBe(false);
    expect(listCredentials(paths, env)).toEqual([{ registry: "quay.io", username: "c", source: "msb" }]);
  });

  test("a corrupt store is an error with a hint, not silently replaced", () => {
    mkdirSync(paths.home, { recursive: true });
    writeFileSync(paths.credentials, "{not json", { mode: 0o600 });
    expect(() => saveCredentials(paths, "ghcr.io", { username: "a", password: "b" })).toThrow(
      "not valid JSON",
    );
    expect(readFileSync(paths.credentials, "utf8")).toBe("{not json");
  });
});

describe("Docker's config.json fallback", () => {
  test("reads auth (base64 user:pass) and username/password entries under any key spelling", () => {
    writeDockerConfig(join(env.HOME ?? "", ".docker", "config.json"), {
      "https://index.docker.io/v1/": { auth: Buffer.from("hubuser:hub:pass").toString("base64") },
      "https://registry.example.com:5000": { username: "ex", password: "expw" },
      "ghcr.io": { auth: "" },
      "quay.io": { auth: Buffer.from("no-colon").toString("base64") },
    });
    expect(lookupCredentials(paths, "docker.io", env)).toEqual({ username: "hubuser", password: "hub:pass" });
    expect(lookupCredentials(paths, "registry.example.com:5000", env)).toEqual({
      username: "ex",
      password: "expw",
    });
    expect(lookupCredentials(paths, "ghcr.io", env)).toBeUndefined();
    expect(lookupCredentials(paths, "quay.io", env)).toBeUndefined();
  });

  test("DOCKER_CONFIG wins over HOME", () => {
    const dockerDir = join(dir, "docker-config");
    env.DOCKER_CONFIG = dockerDir;
    expect(dockerConfigPath(env)).toBe(join(dockerDir, "config.json"));
    writeDockerConfig(join(dockerDir, "config.json"), { "ghcr.io": { username: "d", password: "p" } });
    writeDockerConfig(join(env.HOME ?? "", ".docker", "config.json"), {
      "ghcr.io": { username: "home", password: "p" },
    });
    expect(lookupCredentials(paths, "ghcr.io", env)?.username).toBe("d");
  });

  test("msb's own entry takes precedence and list shows each registry once", () => {
    writeDockerConfig(join(env.HOME ?? "", ".docker", "config.json"), {
      "ghcr.io": { username: "docker-user", password: "p" },
      "https://index.docker.io/v1/": { username: "hub", password: "p" },
    });
    saveCredentials(paths, "ghcr.io", { username: "msb-user", password: "secret" });
    expect(lookupCredentials(paths, "ghcr.io", env)?.username).toBe("msb-user");
    const listed = listCredentials(paths, env);
    expect(listed).toEqual([
      { registry: "ghcr.io", username: "msb-user", source: "msb" },
      { registry: "docker.io", username: "hub", source: "docker" },
    ]);
    expect(JSON.stringify(listed)).not.toContain("secret");
  });

  test("a broken Docker config is ignored", () => {
    const path = join(env.HOME ?? "", ".docker", "config.json");
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, "garbage");
    expect(lookupCredentials(paths, "ghcr.io", env)).toBeUndefined();
    expect(listCredentials(paths, env)).toEqual([]);
  });
});
