// `--secret ENV=VALUE@HOST[,HOST...][:body]` and `--secret ENV@HOST...` (VALUE read from the
// CLI's own environment), and the values a later `msb start` supplies. Parsing keeps the value
// apart from what is stored: SecretSpec (name, hosts, placeholder) goes into the sandbox spec,
// the value only ever travels to the supervisor (secret-values.ts).
import { randomBytes } from "node:crypto";
import { UsageError } from "../errors.ts";
import { isValidDomain, normalizeDomain } from "../network/domain-name.ts";
import type { SecretSpec, SecretViolationAction } from "./spec.ts";

const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const BODY_SUFFIX = ":body";
export const PLACEHOLDER_PREFIX = "msb_ph_";
const VIOLATION_ACTIONS: readonly SecretViolationAction[] = ["block", "block-and-log", "block-and-terminate"];
const EXAMPLE = "e.g. --secret API_KEY=sk-123@api.example.com or --secret API_KEY@api.example.com";

/** One --secret as given: what is stored, and the value (never stored). */
export interface GivenSecret {
  name: string;
  hosts: string[];
  body: boolean;
  source: "literal" | "env";
  value: string;
}

export function parseSecret(text: string, hostEnv: Record<string, string | undefined>): GivenSecret {
  const body = text.endsWith(BODY_SUFFIX);
  const spec = body ? text.slice(0, -BODY_SUFFIX.length) : text;
  const at = spec.lastIndexOf("@");
  if (at < 0) throw new UsageError(`--secret ${redact(text)} names no host`, EXAMPLE);
  const left = spec.slice(0, at);
  const hosts = parseSecretHosts(spec.slice(at + 1), text);
  const equals = left.indexOf("=");
  const name = equals < 0 ? left : left.slice(0, equals);
  checkName(name, text);
  if (equals >= 0) {
    return { name, hosts, body, source: "literal", value: checkValue(name, left.slice(equals + 1)) };
  }
  return { name, hosts, body, source: "env", value: valueFromEnv(name, hostEnv) };
}

/** Every --secret, checked for duplicate names. */
export function parseSecrets(texts: readonly string[], hostEnv: Record<string, string | undefined>) {
  const secrets = texts.map((text) => parseSecret(text, hostEnv));
  const seen = new Set<string>();
  for (const secret of secrets) {
    if (seen.has(secret.name)) {
      throw new UsageError(`two --secret options set ${secret.name}`, "give each secret once");
    }
    seen.add(secret.name);
  }
  return secrets;
}

/** What the spec stores: a fresh placeholder, unique per sandbox and secret; no value. */
export function secretSpec(secret: GivenSecret): SecretSpec {
  return {
    name: secret.name,
    hosts: secret.hosts,
    body: secret.body,
    source: secret.source,
    placeholder: `${PLACEHOLDER_PREFIX}${secret.name}_${randomBytes(16).toString("hex")}`,
  };
}

export function parseViolationAction(value: string | undefined): SecretViolationAction {
  if (value === undefined) return "block-and-log";
  const action = VIOLATION_ACTIONS.find((candidate) => candidate === value);
  if (action === undefined) {
    throw new UsageError(
      `invalid --secret-violation ${JSON.stringify(value)}`,
      `use one of ${VIOLATION_ACTIONS.join(", ")}`,
    );
  }
  return action;
}

/**
 * The value of each stored secret for a start: from a --secret given to this command (its
 * hosts, if given, must be the stored ones), else from this process's environment for a secret
 * that was read from it. A literal secret not given again fails, naming the fix.
 */
export function secretValuesForStart(
  sandbox: string,
  stored: readonly SecretSpec[],
  given: readonly string[],
  hostEnv: Record<string, string | undefined>,
): Map<string, string> {
  const byName = new Map<string, string>();
  for (const text of given) {
    const { name, value, hosts } = parseStartSecret(text, hostEnv);
    const secret = stored.find((candidate) => candidate.name === name);
    if (secret === undefined) {
      throw new UsageError(
        `sandbox ${sandbox} has no secret ${name}`,
        "secrets are fixed when the sandbox is created; recreate it with --replace to add one",
      );
    }
    if (hosts !== null && hosts.join(",") !== secret.hosts.join(",")) {
      throw new UsageError(
        `--secret ${name} names hosts ${hosts.join(",")}, but the sandbox has ${secret.hosts.join(",")}`,
        `give only the value: --secret ${name}=VALUE`,
      );
    }
    byName.set(name, value);
  }
  for (const secret of stored) {
    if (byName.has(secret.name)) continue;
    if (secret.source === "literal") {
      throw new UsageError(
        `secret ${secret.name} of sandbox ${sandbox} was given as a value and is not kept`,
        `give it again: msb start ${sandbox} --secret ${secret.name}=VALUE (or --secret ${secret.name} to read $${secret.name})`,
      );
    }
    byName.set(secret.name, valueFromEnv(secret.name, hostEnv));
  }
  return byName;
}

/** `ENV=VALUE`, `ENV` (from the environment), either with an optional `@HOSTS[:body]`. */
function parseStartSecret(text: string, hostEnv: Record<string, string | undefined>) {
  if (text.includes("@")) {
    const secret = parseSecret(text, hostEnv);
    return { name: secret.name, value: secret.value, hosts: secret.hosts };
  }
  const equals = text.indexOf("=");
  const name = equals < 0 ? text : text.slice(0, equals);
  checkName(name, text);
  const value = equals < 0 ? valueFromEnv(name, hostEnv) : checkValue(name, text.slice(equals + 1));
  return { name, value, hosts: null };
}

function parseSecretHosts(list: string, text: string): string[] {
  const hosts = list.split(",").map((host) => normalizeDomain(host.trim()));
  for (const host of hosts) {
    const domain = host.startsWith("*.") ? host.slice(2) : host;
    if (!isValidDomain(domain)) {
      throw new UsageError(
        `invalid host ${JSON.stringify(host)} in --secret ${redact(text)}`,
        "give domain names or *.suffix, separated by commas, e.g. @api.example.com,*.example.org",
      );
    }
  }
  return hosts;
}

function checkName(name: string, text: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new UsageError(
      `invalid secret name ${JSON.stringify(name)} in --secret ${redact(text)}: use letters, digits and '_'`,
      EXAMPLE,
    );
  }
}

function valueFromEnv(name: string, hostEnv: Record<string, string | undefined>): string {
  const value = hostEnv[name];
  if (value === undefined || value === "") {
    throw new UsageError(
      `--secret ${name} reads $${name} from your environment, but it is not set`,
      `export ${name}=... first, or give the value: --secret ${name}=VALUE@HOST`,
    );
  }
  return checkValue(name, value);
}

/** A value goes into header lines: a line break in it would let it forge headers. */
function checkValue(name: string, value: string): string {
  if (value === "") throw new UsageError(`--secret ${name}: the value is empty`, EXAMPLE);
  if (/[\r\n\0]/.test(value)) {
    throw new UsageError(
      `the value of secret ${name} contains a line break or NUL`,
      "secrets are single-line values",
    );
  }
  return value;
}

/** The flag with its value hidden, for messages: a value must not end up in logs. */
function redact(text: string): string {
  const equals = text.indexOf("=");
  const at = text.lastIndexOf("@");
  if (equals < 0 || (at >= 0 && at < equals)) return JSON.stringify(text);
  return JSON.stringify(`${text.slice(0, equals)}=***${at > equals ? text.slice(at) : ""}`);
}
