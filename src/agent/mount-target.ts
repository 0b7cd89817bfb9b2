// Checks where a user's mount may go inside a sandbox: the agent's mount plan refuses a bad
// target at boot, and the CLI can call the same check to refuse it at create time instead.
import { MsbError } from "../errors.ts";

/** Guest paths the agent owns: user mounts may not cover them. */
export const RESERVED_GUEST_PATHS = ["/proc", "/sys", "/dev", "/.msb"];

/**
 * A user mount's guest path, normalized: absolute, no `.` or `..` parts, not `/` itself and
 * not on or under a path the agent owns.
 */
export function validateMountTarget(target: string): string {
  const refuse = (why: string) =>
    new MsbError(`invalid mount target ${JSON.stringify(target)}: ${why}`, {
      code: "usage",
      hint: "give an absolute guest path such as /data, outside /proc, /sys, /dev and /.msb",
    });
  if (!target.startsWith("/")) throw refuse("it must be an absolute path");
  if (target.includes("\0")) throw refuse("it contains a NUL byte");
  const parts = target.split("/").filter((part) => part !== "");
  if (parts.some((part) => part === "." || part === "..")) throw refuse("it must not contain . or ..");
  if (parts.length === 0) throw refuse("it must not be the root itself");
  const normalized = `/${parts.join("/")}`;
  const reserved = RESERVED_GUEST_PATHS.find(
    (path) => normalized === path || normalized.startsWith(`${path}/`),
  );
  if (reserved) throw refuse(`${reserved} belongs to the sandbox agent`);
  return normalized;
}
