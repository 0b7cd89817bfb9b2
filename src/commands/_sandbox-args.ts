// The flags `run` and `create` share, and a reader for them that does not lose repeated flags.
// citty 0.2.2 parses with node's util.parseArgs without `multiple`, so `-v a -v b` reaches
// `args` as "b" only, and it merges everything after `--` into `args._`. scanArgs re-reads the
// raw arguments the way citty does (same option table, same `--no-*` handling) but keeps every
// occurrence and where the guest command starts.
import { parseArgs } from "node:util";
import type { ArgsDef } from "citty";
import type { SandboxOptionsInput } from "../sandbox/options.ts";
import { optionTable, quietArgs } from "./_shared.ts";

export const sandboxArgs = {
  name: { type: "string", alias: "n", description: "Sandbox name (default: msb-<8 hex>)" },
  cpus: { type: "string", alias: "c", valueHint: "n", description: "Virtual CPUs (default: 1)" },
  memory: {
    type: "string",
    alias: "m",
    valueHint: "size",
    description: "Memory, e.g. 512M or 1G (default: 512M)",
  },
  volume: {
    type: "string",
    alias: "v",
    valueHint: "src:dst[:ro]",
    description: "Mount a host directory, or a named volume (created if missing) (repeatable)",
  },
  workdir: { type: "string", alias: "w", valueHint: "path", description: "Working directory in the sandbox" },
  shell: {
    type: "string",
    valueHint: "path",
    description: "Shell for `msb shell` and no-command runs (default: /bin/sh)",
  },
  env: {
    type: "string",
    alias: "e",
    valueHint: "key=value",
    description: "Set a variable; bare KEY copies yours (repeatable)",
  },
  replace: { type: "boolean", description: "Replace an existing sandbox with the same name" },
  tmpfs: { type: "string", valueHint: "path[:size]", description: "Mount a tmpfs (repeatable)" },
  script: {
    type: "string",
    valueHint: "name:path",
    description: "Copy a script to /.msb/scripts/NAME, on PATH (repeatable)",
  },
  entrypoint: {
    type: "string",
    valueHint: "program",
    description: 'Replace the image\'s ENTRYPOINT (one program; "" clears it)',
  },
  hostname: { type: "string", alias: "H", description: "Hostname (default: the sandbox name)" },
  user: { type: "string", alias: "u", valueHint: "user[:group]", description: "User the command runs as" },
  pull: {
    type: "string",
    valueHint: "always|if-missing|never",
    description: "When to pull the image (default: if-missing)",
  },
  "max-duration": {
    type: "string",
    valueHint: "duration",
    description: "Stop the sandbox after this long, e.g. 1h",
  },
  "idle-timeout": {
    type: "string",
    valueHint: "duration",
    description: "Stop the sandbox after this long idle, e.g. 10m",
  },
  network: {
    type: "boolean",
    description: "Give the sandbox a network (--no-network: loopback only, no NIC)",
  },
  "net-rule": {
    type: "string",
    valueHint: "rule",
    description:
      "allow|deny@target[:proto[:ports]] before the public-only default, e.g. allow@host (repeatable)",
  },
  "dns-block-domain": {
    type: "string",
    valueHint: "domain",
    description: "Answer NXDOMAIN for this domain and its subdomains (repeatable)",
  },
  "dns-nameserver": {
    type: "string",
    valueHint: "ip[:port]",
    description: "Upstream DNS server instead of the host's (repeatable)",
  },
  "dns-rebind-protection": {
    type: "boolean",
    description: "Drop DNS answers pointing at denied addresses (default on; --no-dns-rebind-protection)",
  },
  port: {
    type: "string",
    alias: "p",
    valueHint: "[addr:]host:guest[/udp]",
    description: "Publish a guest port on the host (127.0.0.1 unless addr is given; repeatable)",
  },
  "max-connections": {
    type: "string",
    valueHint: "n",
    description: "Most concurrent TCP connections out of the sandbox (default 256)",
  },
  secret: {
    type: "string",
    valueHint: "ENV[=VALUE]@HOST",
    description:
      "ENV holds a placeholder; the value (or your $ENV) goes only over TLS to HOST[,...][:body] (repeatable)",
  },
  "secret-violation": {
    type: "string",
    valueHint: "action",
    description: "block, block-and-log (default) or block-and-terminate when a placeholder heads elsewhere",
  },
  "tls-intercept": {
    type: "boolean",
    description: "Terminate guest TLS with msb's CA (implied by --secret)",
  },
  "tls-intercept-port": {
    type: "string",
    valueHint: "port",
    description: "Port whose TLS is intercepted (default 443; repeatable)",
  },
  "tls-bypass": {
    type: "string",
    valueHint: "domain",
    description: "Relay this domain's TLS untouched, *.suffix allowed (repeatable)",
  },
  "block-quic": {
    type: "boolean",
    description: "Drop UDP to intercepted ports so clients use TCP (default on; --no-block-quic)",
  },
  "tls-intercept-ca-cert": { type: "string", valueHint: "file", description: "Your CA certificate (PEM)" },
  "tls-intercept-ca-key": { type: "string", valueHint: "file", description: "Your CA's private key (PEM)" },
  "tls-upstream-ca-cert": {
    type: "string",
    valueHint: "file",
    description: "Also trust this CA for upstream servers (repeatable)",
  },
  isolation: {
    type: "string",
    valueHint: "vm|namespace",
    description: "Isolation backend (default: $MSB_ISOLATION or vm)",
  },
  ...quietArgs,
} as const satisfies ArgsDef;

export interface ScannedArgs {
  /** Every value given to each option, keyed by its definition name, in command-line order. */
  values: Map<string, string[]>;
  /** Positional arguments before `--`. */
  positionals: string[];
  /** Arguments after the first `--` that is not an option's value; empty without one. */
  command: string[];
  /** The raw arguments before that `--`. */
  options: string[];
}

export function scanArgs(definition: ArgsDef, rawArgs: string[]): ScannedArgs {
  const { options, spellings } = optionTable(definition);
  // citty drops `--no-*` before the first `--` (negations) before util.parseArgs sees them.
  const end = rawArgs.indexOf("--");
  const head = end < 0 ? rawArgs : rawArgs.slice(0, end);
  const kept = head.filter((arg) => !arg.startsWith("--no-"));
  const args = [...kept, ...(end < 0 ? [] : rawArgs.slice(end))];
  const { tokens } = parseArgs({ args, options, allowPositionals: true, strict: false, tokens: true });
  const scanned: ScannedArgs = { values: new Map(), positionals: [], command: [], options: rawArgs };
  for (const token of tokens) {
    if (token.kind === "option-terminator") {
      const rawIndex = token.index + (head.length - kept.length);
      scanned.options = rawArgs.slice(0, rawIndex);
      scanned.command = rawArgs.slice(rawIndex + 1);
      break;
    }
    if (token.kind === "positional") {
      scanned.positionals.push(token.value);
      continue;
    }
    const key = spellings.get(token.name);
    if (key === undefined || definition[key]?.type === "boolean") continue;
    const values = scanned.values.get(key) ?? [];
    values.push(token.value ?? "");
    scanned.values.set(key, values);
  }
  return scanned;
}

/** Every value of a repeatable string option: `-v a -v b`, `--volume=a`, `--volume a`, `-va`. */
export function repeatable(definition: ArgsDef, name: string, rawArgs: string[]): string[] {
  return scanArgs(definition, rawArgs).values.get(name) ?? [];
}

/** rawArgs split at the `--` that starts the guest command. */
export function splitGuestCommand(
  definition: ArgsDef,
  rawArgs: string[],
): { options: string[]; positionals: string[]; command: string[] } {
  const { options, positionals, command } = scanArgs(definition, rawArgs);
  return { options, positionals, command };
}

/** The sandbox flags of a `run`/`create` invocation; the last value wins for single flags. */
export function sandboxOptionsInput(definition: ArgsDef, rawArgs: string[]): SandboxOptionsInput {
  const { values, command, options } = scanArgs(definition, rawArgs);
  const last = (name: string) => values.get(name)?.at(-1);
  const negated = (name: string) => options.includes(`--no-${name}`);
  const all = (name: string) => values.get(name) ?? [];
  return {
    name: last("name"),
    cpus: last("cpus"),
    memory: last("memory"),
    volume: all("volume"),
    workdir: last("workdir"),
    shell: last("shell"),
    env: all("env"),
    tmpfs: all("tmpfs"),
    script: all("script"),
    entrypoint: last("entrypoint"),
    hostname: last("hostname"),
    user: last("user"),
    pull: last("pull"),
    maxDuration: last("max-duration"),
    idleTimeout: last("idle-timeout"),
    isolation: last("isolation"),
    noNetwork: negated("network"),
    netRule: all("net-rule"),
    dnsBlockDomain: all("dns-block-domain"),
    dnsNameserver: all("dns-nameserver"),
    noDnsRebindProtection: negated("dns-rebind-protection"),
    maxConnections: last("max-connections"),
    port: all("port"),
    secret: all("secret"),
    secretViolation: last("secret-violation"),
    tlsIntercept: options.includes("--tls-intercept"),
    tlsInterceptPort: all("tls-intercept-port"),
    tlsBypass: all("tls-bypass"),
    noBlockQuic: negated("block-quic"),
    tlsInterceptCaCert: last("tls-intercept-ca-cert"),
    tlsInterceptCaKey: last("tls-intercept-ca-key"),
    tlsUpstreamCaCert: all("tls-upstream-ca-cert"),
    command,
  };
}
