// Registry credentials as the `registry` commands see them: verify before storing, forget,
// list without ever exposing a password.
import { MsbError } from "../errors.ts";
import type { MsbPaths } from "../paths.ts";
import { listCredentials, removeCredentials, saveCredentials } from "./credentials.ts";
import { normalizeRegistry } from "./reference.ts";
import { RegistryClient } from "./registry/client.ts";

export async function loginRegistry(
  paths: MsbPaths,
  host: string,
  username: string,
  password: string,
  options: { insecure?: boolean } = {},
): Promise<void> {
  const registry = normalizeHost(host);
  const client = new RegistryClient({
    insecure: options.insecure,
    credentials: (target) => (target === registry ? { username, password } : undefined),
  });
  try {
    await client.ping(registry);
  } catch (error) {
    if (error instanceof MsbError && error.code === "permission") {
      throw new MsbError(error.message, {
        code: "permission",
        hint: "check the user name and the password or token, then log in again",
      });
    }
    throw error;
  }
  saveCredentials(paths, registry, { username, password });
}

export function logoutRegistry(paths: MsbPaths, host: string): boolean {
  return removeCredentials(paths, normalizeHost(host));
}

export function listRegistries(paths: MsbPaths) {
  return listCredentials(paths);
}

function normalizeHost(host: string): string {
  const bare = host
    .trim()
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, "")
    .replace(/\/+$/, "");
  if (bare === "" || bare.includes("/") || /\s/.test(bare)) {
    throw new MsbError(`invalid registry host: ${JSON.stringify(host)}`, {
      code: "usage",
      hint: "give a host name with an optional port, e.g. ghcr.io or 127.0.0.1:5000",
    });
  }
  return normalizeRegistry(bare);
}
