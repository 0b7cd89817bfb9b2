// `--script NAME:PATH`: a host file copied at create time to /.msb/scripts/NAME in the guest
// (on PATH there), so the sandbox keeps working when the file changes or goes away.
import { readFileSync, statSync } from "node:fs";
import { UsageError } from "../errors.ts";
import { type HostPathContext, resolveHostPath } from "./parse-mount.ts";
import type { ScriptSpec } from "./spec.ts";

export const MAX_SCRIPT_BYTES = 1024 * 1024;

const SCRIPT_NAME = /^[A-Za-z0-9_.-]+$/;

export function parseScript(spec: string, context: HostPathContext): ScriptSpec {
  const colon = spec.indexOf(":");
  const name = colon < 0 ? "" : spec.slice(0, colon);
  const path = colon < 0 ? "" : spec.slice(colon + 1);
  if (name === "" || path === "") {
    throw new UsageError(`invalid script '${spec}': use --script NAME:PATH, e.g. --script setup:./setup.sh`);
  }
  // The name becomes a file name under /.msb/scripts: `.` and `..` would escape it.
  if (!SCRIPT_NAME.test(name) || name === "." || name === "..") {
    throw new UsageError(
      `invalid script name '${name}' in '${spec}': use letters, digits, '_', '.' and '-', e.g. setup`,
    );
  }
  const file = resolveHostPath(path, context, `--script '${spec}'`);
  const stats = statSync(file);
  if (!stats.isFile()) throw new UsageError(`script ${file} in --script '${spec}' is not a regular file`);
  if (stats.size > MAX_SCRIPT_BYTES) {
    throw new UsageError(`script ${file} is ${stats.size} bytes; scripts may be at most 1 MiB`);
  }
  return { name, content: readFileSync(file, "utf8") };
}
