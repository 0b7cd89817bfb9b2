// What a sandbox is made of, as stored in msb.db (sandboxes.config_json) at create time and
// used by every later start. Built from flags by options.ts; never holds secrets.

export type IsolationBackend = "vm" | "namespace";

export interface BindMount {
  kind: "bind";
  /** Absolute host path (relative paths are resolved at create time). */
  source: string;
  /** Absolute guest path. */
  target: string;
  readonly: boolean;
}

export interface TmpfsMount {
  kind: "tmpfs";
  target: string;
  sizeBytes: number | null;
}

/**
 * `-v NAME:/guest`: a named volume (MSB_HOME/volumes), looked up when the sandbox starts; the
 * supervisor turns it into a bind or a disk mount in the agent's boot config.
 */
export interface NamedVolumeMount {
  kind: "volume";
  name: string;
  target: string;
  readonly: boolean;
}

export type MountSpec = BindMount | TmpfsMount | NamedVolumeMount;

export interface ScriptSpec {
  name: string;
  /** The script's content, copied at create time so the sandbox does not depend on the file. */
  content: string;
}

/** `-p`: a guest port reachable from the host at bindAddress:hostPort. */
export interface PublishedPort {
  bindAddress: string;
  hostPort: number;
  guestPort: number;
  protocol: "tcp" | "udp";
}

/** The sandbox's network behind the engine; null in SandboxSpec means --no-network (no NIC). */
export interface NetworkSpec {
  /** `--net-rule` texts, checked at create time, applied first-match before the default. */
  rules: string[];
  /** `--dns-block-domain`: answered NXDOMAIN, subdomains included. */
  blockedDomains: string[];
  /** `--dns-nameserver`; empty: the host's /etc/resolv.conf. */
  nameservers: string[];
  rebindProtection: boolean;
  maxConnections: number;
  /** Absent in records made before port publishing existed. */
  ports?: PublishedPort[];
  /** TLS interception; null or absent: every connection is relayed as is. */
  tls?: TlsInterceptSpec | null;
  /** `--secret`: names, hosts and placeholders only; the values never reach the store. */
  secrets?: SecretSpec[];
  secretViolation?: SecretViolationAction;
}

/** `--tls-intercept*`, `--tls-bypass`, `--no-block-quic`, `--tls-upstream-ca-cert`. */
export interface TlsInterceptSpec {
  /** Guest destination ports whose TLS connections are terminated (default [443]). */
  ports: number[];
  /** Domains (`*.suffix` allowed) whose connections are spliced untouched. */
  bypass: string[];
  /** Drop UDP to intercepted ports so clients fall back from QUIC to TCP. */
  blockQuic: boolean;
  /** Absolute paths of the user's CA (both or neither); null: the CA under MSB_HOME. */
  caCert: string | null;
  caKey: string | null;
  /** Absolute paths of extra PEM roots trusted for upstream servers. */
  upstreamCaCerts: string[];
}

export type SecretViolationAction = "block" | "block-and-log" | "block-and-terminate";

export interface SecretSpec {
  /** The guest environment variable that holds the placeholder. */
  name: string;
  /** Hosts (`*.suffix` allowed) the real value may be sent to. */
  hosts: string[];
  /** `:body`: also substituted in request bodies. */
  body: boolean;
  /** "env": read again from the environment of `msb start`; "literal": must be given again. */
  source: "literal" | "env";
  /** What the guest sees instead of the value; unique per sandbox and secret. */
  placeholder: string;
}

export interface SandboxSpec {
  name: string;
  /** Canonical image reference and the manifest whose rootfs.erofs this sandbox uses. */
  image: string;
  manifestDigest: string;
  isolation: IsolationBackend;
  cpus: number;
  memoryBytes: number;
  /** Size of the sparse upper.ext4 that holds the sandbox's writes. */
  diskBytes: number;
  hostname: string;
  /** Image Env with `-e` entries layered on top, `KEY=VALUE`. */
  env: string[];
  workdir: string | null;
  user: string | null;
  shell: string;
  /** OCI rule applied at create time: ENTRYPOINT + (command or CMD). Empty: use the shell. */
  command: string[];
  mounts: MountSpec[];
  scripts: ScriptSpec[];
  /** Milliseconds; null = unlimited. */
  maxDurationMs: number | null;
  idleTimeoutMs: number | null;
  /** Unnamed `msb run`: removed when its command exits. */
  ephemeral: boolean;
  /** null: --no-network. Absent in records made before networking existed: loopback only. */
  network?: NetworkSpec | null;
}
