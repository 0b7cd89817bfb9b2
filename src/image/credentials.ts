// Registry credentials: msb's own store (MSB_HOME/registries.json, mode 0600, replaced
// atomically) and, as a fallback, the `auths` of Docker's config.json, so a `docker login`
// also works for msb. Hosts are normalized so `index.docker.io` and `docker.io` are one entry.
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeSync,
} from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { MsbError, UsageError } from "../errors.ts";
import type { MsbPaths } from "../paths.ts";
import { normalizeRegistry } from "./reference.ts";
import type { RegistryCredentials } from "./registry/types.ts";

export type { RegistryCredentials } from "./registry/types.ts";

export interface CredentialsEntry {
  registry: string;
  username: string;
  source: "msb" | "docker";
}

interface CredentialsFile {
  auths: Record<string, RegistryCredentials>;
}

const PRIVATE_MODE = 0o600;

export function saveCredentials(paths: MsbPaths, host: string, credentials: RegistryCredentials): void {
  const registry = normalizeRegistry(host);
  if (!registry) throw new UsageError(`invalid registry host "${host}": expected a host like ghcr.io`);
  const store = readStore(paths.credentials);
  store.auths[registry] = { username: credentials.username, password: credentials.password };
  writeStore(paths.credentials, store);
}

/** Forgets the credentials of `host`; false when msb had none stored. */
export function removeCredentials(paths: MsbPaths, host: string): boolean {
  const registry = normalizeRegistry(host);
  const store = readStore(paths.credentials);
  if (!(registry in store.auths)) return false;
  delete store.auths[registry];
  writeStore(paths.credentials, store);
  return true;
}

/** Every registry msb can authenticate to, msb's own entries first; never the passwords. */
export function listCredentials(paths: MsbPaths, env: NodeJS.ProcessEnv = process.env): CredentialsEntry[] {
  const own = Object.entries(readStore(paths.credentials).auths).map(([registry, { username }]) => ({
    registry,
    username,
    source: "msb" as const,
  }));
  const ownRegistries = new Set(own.map((entry) => entry.registry));
  const docker = [...readDockerAuths(env)]
    .filter(([registry]) => !ownRegistries.has(registry))
    .map(([registry, { username }]) => ({ registry, username, source: "docker" as const }));
  const byRegistry = (a: CredentialsEntry, b: CredentialsEntry) => a.registry.localeCompare(b.registry);
  return [...own.sort(byRegistry), ...docker.sort(byRegistry)];
}

/** Credentials for `host`: msb's store first, then Docker's config.json. */
export function lookupCredentials(
  paths: MsbPaths,
  host: string,
  env: NodeJS.ProcessEnv = process.env,
): RegistryCredentials | undefined {
  const registry = normalizeRegistry(host);
  return readStore(paths.credentials).auths[registry] ?? readDockerAuths(env).get(registry);
}

export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DOCKER_CONFIG) return join(env.DOCKER_CONFIG, "config.json");
  return join(env.HOME || homedir(), ".docker", "config.json");
}

function readStore(path: string): CredentialsFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { auths: {} };
    throw new MsbError(`cannot read registry credentials at ${path}`, { cause: error });
  }
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, PRIVATE_MODE);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new MsbError(`registry credentials at ${path} are not valid JSON`, {
      cause: error,
      hint: `fix or delete ${path}, then run msb registry login again`,
    });
  }
  const auths: Record<string, RegistryCredentials> = {};
  const entries = (parsed as { auths?: unknown })?.auths;
  for (const [registry, entry] of Object.entries(typeof entries === "object" && entries ? entries : {})) {
    const { username, password } = (entry ?? {}) as Record<string, unknown>;
    if (typeof username === "string" && typeof password === "string")
      auths[registry] = { username, password };
  }
  return { auths };
}

/** Writes to a private temporary file, syncs it, then renames it over the store. */
function writeStore(path: string, store: CredentialsFile): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const fd = openSync(temporary, "wx", PRIVATE_MODE);
  try {
    writeSync(fd, `${JSON.stringify(store, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(temporary, PRIVATE_MODE);
  renameSync(temporary, path);
}

/**
 * Docker's `auths`: keys like `https://index.docker.io/v1/`, `ghcr.io` or `https://host:5000`,
 * values with `auth` (base64 `user:password`) or `username`/`password`. Entries kept in a
 * credential helper (no secret in the file) are skipped. A broken file is ignored: it is
 * Docker's, not msb's.
 */
function readDockerAuths(env: NodeJS.ProcessEnv): Map<string, RegistryCredentials> {
  const found = new Map<string, RegistryCredentials>();
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(dockerConfigPath(env), "utf8"));
  } catch {
    return found;
  }
  const auths = (parsed as { auths?: unknown })?.auths;
  if (typeof auths !== "object" || auths === null) return found;
  for (const [key, entry] of Object.entries(auths)) {
    const credentials = dockerEntryCredentials(entry);
    const registry = normalizeRegistry(key);
    if (credentials && registry && !found.has(registry)) found.set(registry, credentials);
  }
  return found;
}

function dockerEntryCredentials(entry: unknown): RegistryCredentials | undefined {
  if (typeof entry !== "object" || entry === null) return undefined;
  const { auth, username, password } = entry as Record<string, unknown>;
  if (typeof auth === "string" && auth) {
    const decoded = Buffer.from(auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (typeof username === "string" && username && typeof password === "string") return { username, password };
  return undefined;
}
