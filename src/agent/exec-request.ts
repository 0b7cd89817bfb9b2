// Checks the shape of an exec request from the wire: the peer is another msb, but a malformed
// request must be refused with a message, never spawn something half-understood.
import { ProtocolError } from "../protocol/frame.ts";
import type { ExecRequest } from "../protocol/messages.ts";

export function validateExecRequest(body: unknown): ExecRequest {
  if (typeof body !== "object" || body === null) throw new ProtocolError("exec request is not an object");
  const request = body as Record<string, unknown>;
  const { argv, env = [], cwd, user, tty = false, rows, cols, timeoutMs } = request;
  if (!isStringArray(argv) || argv.length === 0 || argv[0] === "") {
    throw new ProtocolError("exec request needs a non-empty argv of strings");
  }
  if (!isStringArray(env)) throw new ProtocolError("exec request env must be a list of KEY=VALUE strings");
  if (cwd !== undefined && typeof cwd !== "string")
    throw new ProtocolError("exec request cwd must be a string");
  if (user !== undefined && typeof user !== "string")
    throw new ProtocolError("exec request user must be a string");
  if (typeof tty !== "boolean") throw new ProtocolError("exec request tty must be a boolean");
  for (const [name, value] of [
    ["rows", rows],
    ["cols", cols],
    ["timeoutMs", timeoutMs],
  ] as const) {
    if (value !== undefined && (typeof value !== "number" || !Number.isInteger(value) || value <= 0)) {
      throw new ProtocolError(`exec request ${name} must be a positive integer`);
    }
  }
  return {
    argv,
    env,
    tty,
    ...(cwd === undefined ? {} : { cwd }),
    ...(user === undefined || user === "" ? {} : { user }),
    ...(rows === undefined ? {} : { rows: rows as number }),
    ...(cols === undefined ? {} : { cols: cols as number }),
    ...(timeoutMs === undefined ? {} : { timeoutMs: timeoutMs as number }),
  };
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}
