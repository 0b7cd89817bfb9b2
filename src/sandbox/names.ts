// Sandbox names: what users may call a sandbox, the `msb-<8 hex>` names unnamed ones get, and
// the hostname a name turns into (names allow `_` and `.`, hostname labels do not).
import { randomBytes } from "node:crypto";
import { UsageError } from "../errors.ts";

const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;

export function isValidSandboxName(name: string): boolean {
  return NAME_PATTERN.test(name);
}

export function validateSandboxName(name: string): string {
  if (!isValidSandboxName(name)) {
    throw new UsageError(
      `invalid sandbox name '${name}': use 1 to 63 letters, digits, '_', '.' or '-', starting with a letter or digit`,
    );
  }
  return name;
}

/** `msb-1a2b3c4d`, as upstream names sandboxes created without --name. */
export function generateSandboxName(random: () => Buffer = () => randomBytes(4)): string {
  return `msb-${random().toString("hex").slice(0, 8).padStart(8, "0")}`;
}

/** The default hostname of a sandbox: its name with characters a DNS label forbids made `-`. */
export function hostnameFromName(name: string): string {
  const label = name
    .replace(/[^a-zA-Z0-9-]/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63)
    .replace(/-+$/, "");
  return label === "" ? "sandbox" : label;
}
