// Reads vm.json back into a VmSpec, checking its shape, so a VMM never configures a guest from a
// truncated or foreign file.
import { readFileSync } from "node:fs";
import { MsbError } from "../errors.ts";
import type { VmSpec } from "./vm-spec.ts";

export function readVmSpec(path: string): VmSpec {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new MsbError(`cannot read VM spec ${path}: ${(error as Error).message}`, { code: "notFound" });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new MsbError(`VM spec ${path} is not JSON: ${(error as Error).message}`, { code: "usage" });
  }
  const problem = vmSpecProblem(value);
  if (problem) throw new MsbError(`invalid VM spec ${path}: ${problem}`, { code: "usage" });
  return value as VmSpec;
}

/** What is wrong with `value` as a VmSpec, or undefined when nothing is. */
export function vmSpecProblem(value: unknown): string | undefined {
  if (!isObject(value)) return "not a JSON object";
  if (value.version !== 1) return `unsupported version ${String(value.version)}`;
  if (!isCount(value.cpus)) return "cpus must be a whole number of at least 1";
  if (!isCount(value.memoryMib)) return "memoryMib must be a whole number of at least 1";
  if (!isText(value.consoleLog)) return "consoleLog must be a non-empty string";
  if (!Array.isArray(value.disks) || !value.disks.every(isDisk))
    return "disks must be a list of {serial, path, readOnly}";
  if (!Array.isArray(value.shares) || !value.shares.every(isShare))
    return "shares must be a list of {tag, path, readOnly}";
  const network = value.network;
  if (network !== null && !(isObject(network) && isText(network.socket) && isText(network.mac))) {
    return "network must be null or {socket, mac}";
  }
  const port = value.agentPort;
  if (!(isObject(port) && isText(port.name) && isText(port.socket)))
    return "agentPort must be {name, socket}";
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isText(value: unknown): value is string {
  return typeof value === "string" && value !== "";
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 1;
}

function isDisk(value: unknown): boolean {
  return isObject(value) && isText(value.serial) && isText(value.path) && typeof value.readOnly === "boolean";
}

function isShare(value: unknown): boolean {
  return isObject(value) && isText(value.tag) && isText(value.path) && typeof value.readOnly === "boolean";
}
