// Preconditions of the integration suites. Each check returns the reason to skip (or undefined), so
// a file can write `describe.skipIf(reason)` and print the same reason: nothing is skipped silently.
import { existsSync } from "node:fs";

/** Skip reason when `nameOrPath` is neither an existing path nor a command on PATH. */
export function requireTool(nameOrPath: string, installHint: string): string | undefined {
  const found = nameOrPath.includes("/") ? existsSync(nameOrPath) : Bun.which(nameOrPath) !== null;
  return found ? undefined : `${nameOrPath} not found (${installHint})`;
}

export function requireRoot(): string | undefined {
  return process.getuid?.() === 0 ? undefined : "needs root";
}

export function requireLinux(): string | undefined {
  return process.platform === "linux" ? undefined : `needs Linux (this is ${process.platform})`;
}

/** The first skip reason of several checks, or undefined when all pass. */
export function firstSkipReason(...reasons: (string | undefined)[]): string | undefined {
  return reasons.find((reason) => reason !== undefined);
}

/** Prints why `suite` is skipped; call it at module level next to `describe.skipIf(reason)`. */
export function announceSkip(suite: string, reason: string | undefined): string | undefined {
  if (reason !== undefined) console.warn(`skip: ${suite}: ${reason}`);
  return reason;
}

export const DOCKER_REGISTRY = "/usr/bin/docker-registry";

/** Skip reason for suites that need the loopback registry (Debian's docker-registry). */
export function requireDockerRegistry(): string | undefined {
  return firstSkipReason(requireLinux(), requireTool(DOCKER_REGISTRY, "apt-get install docker-registry"));
}
