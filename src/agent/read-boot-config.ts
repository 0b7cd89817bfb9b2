// Reads and checks the boot config the supervisor wrote (boot-config.ts): the agent trusts its
// shape only after this, so a stale or foreign file fails at boot with a message that says what
// is wrong instead of somewhere deep in root assembly.
import { readFileSync } from "node:fs";
import { MsbError } from "../errors.ts";
import { MAX_MTU, MIN_MTU } from "../network/plan.ts";
import { ipv4FromString, macFromString } from "../network/wire/address.ts";
import type { AgentBootConfig } from "./boot-config.ts";

export function readBootConfig(path: string): AgentBootConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new MsbError(`cannot read the boot config ${path}: ${(error as Error).message}`, { cause: error });
  }
  return checkBootConfig(parsed, path);
}

export function checkBootConfig(value: unknown, origin: string): AgentBootConfig {
  const fail = (why: string) => new MsbError(`invalid boot config ${origin}: ${why}`);
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw fail("not a JSON object");
  const config = value as Record<string, unknown>;
  if (config.version !== 1) throw fail(`unsupported version ${JSON.stringify(config.version)}`);
  if (config.backend !== "namespace" && config.backend !== "vm")
    throw fail("backend must be namespace or vm");
  for (const key of ["hostname", "lowerDisk", "upperDisk", "runtimeDir", "agentSocket"]) {
    if (typeof config[key] !== "string" || config[key] === "")
      throw fail(`${key} must be a non-empty string`);
  }
  if (!isStringArray(config.env)) throw fail("env must be a list of KEY=VALUE strings");
  for (const key of ["workdir", "user"]) {
    if (config[key] !== null && typeof config[key] !== "string")
      throw fail(`${key} must be a string or null`);
  }
  if (!Array.isArray(config.mounts) || !config.mounts.every(isMountSpec)) {
    throw fail(
      "mounts must be a list of bind ({source, target, readonly}), tmpfs ({target, sizeBytes}) and disk ({volume, image, source, target, readonly}) mounts",
    );
  }
  if (typeof config.shutdownGraceMs !== "number" || !(config.shutdownGraceMs >= 0)) {
    throw fail("shutdownGraceMs must be a non-negative number");
  }
  if (
    config.caCertPem !== undefined &&
    (typeof config.caCertPem !== "string" || !config.caCertPem.includes("-----BEGIN CERTIFICATE-----"))
  ) {
    throw fail("caCertPem must be a PEM certificate");
  }
  if (config.network !== undefined && config.network !== null) {
    const why = guestNetworkProblem(config.network);
    if (why !== undefined) throw fail(`network: ${why}`);
  }
  if (config.scripts !== undefined && !(Array.isArray(config.scripts) && config.scripts.every(isScript))) {
    throw fail("scripts must be a list of {name, content} with plain file names");
  }
  return value as AgentBootConfig;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

function isScript(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const script = value as Record<string, unknown>;
  const name = script.name;
  return (
    typeof name === "string" &&
    /^[^/\0]+$/.test(name) &&
    name !== "." &&
    name !== ".." &&
    typeof script.content === "string"
  );
}

function isMountSpec(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const mount = value as Record<string, unknown>;
  if (typeof mount.target !== "string") return false;
  if (mount.kind === "bind") return typeof mount.source === "string" && typeof mount.readonly === "boolean";
  if (mount.kind === "tmpfs") return mount.sizeBytes === null || Number.isSafeInteger(mount.sizeBytes);
  if (mount.kind === "disk") {
    return (
      ["volume", "image", "source"].every((key) => typeof mount[key] === "string" && mount[key] !== "") &&
      typeof mount.readonly === "boolean"
    );
  }
  return false;
}

/** What is wrong with a boot config's `network` section (GuestNetworkConfig), if anything. */
function guestNetworkProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || Array.isArray(value) || value === null) return "not an object";
  const network = value as Record<string, unknown>;
  if (network.interface !== "eth0") return "interface must be eth0";
  if (!parses(macFromString, network.mac)) return "mac must be aa:bb:cc:dd:ee:ff";
  for (const key of ["address", "gateway"]) {
    if (!parses(ipv4FromString, network[key])) return `${key} must be an IPv4 address`;
  }
  // A /31 or /32 leaves no room for both the guest and its gateway.
  const prefix = network.prefix as number;
  if (!Number.isInteger(prefix) || prefix < 1 || prefix > 30) return "prefix must be an integer in 1..30";
  const mtu = network.mtu as number;
  if (!Number.isInteger(mtu) || mtu < MIN_MTU || mtu > MAX_MTU)
    return `mtu must be in ${MIN_MTU}..${MAX_MTU}`;
  if (!Array.isArray(network.dns) || !network.dns.every((server) => parses(ipv4FromString, server)))
    return "dns must be a list of IPv4 addresses";
  return undefined;
}

function parses(parse: (text: string) => unknown, value: unknown): boolean {
  if (typeof value !== "string") return false;
  try {
    parse(value);
    return true;
  } catch {
    return false;
  }
}
