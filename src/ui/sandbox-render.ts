// Text for `ls`, `ps` and `inspect`: the tables and the detail view of upstream v0.3, with
// statuses coloured as upstream does. Pure: records in, strings out.
import { colors } from "consola/utils";
import { formatBytes, formatPercent } from "../metrics/render.ts";
import { formatDurationMs } from "../sandbox/parse-duration.ts";
import { GIB, MIB } from "../sandbox/parse-size.ts";
import type { MountSpec, NetworkSpec } from "../sandbox/spec.ts";
import type { SandboxState } from "../sandbox/state.ts";
import { displayCommand, type PsEntry } from "../sandbox/view.ts";
import type { SandboxRecord } from "../store/sandbox-records.ts";
import { formatSize, formatTimestamp, renderTable } from "./format.ts";

const STATUS_STYLE: Record<SandboxState, (text: string) => string> = {
  created: colors.dim,
  starting: (text) => colors.bold(colors.yellow(text)),
  running: (text) => colors.bold(colors.green(text)),
  stopping: (text) => colors.bold(colors.yellow(text)),
  stopped: colors.dim,
  crashed: (text) => colors.bold(colors.red(text)),
};

export function colorStatus(status: SandboxState): string {
  return STATUS_STYLE[status](status);
}

export function renderLsTable(records: readonly SandboxRecord[]): string {
  return renderTable(
    ["NAME", "IMAGE", "STATUS", "CREATED"],
    records.map((record) => [
      record.name,
      record.image,
      colorStatus(record.status),
      formatTimestamp(record.createdAt),
    ]),
  );
}

/** `ls -q` / `ps -q`: one name a line. */
export function renderNames(items: ReadonlyArray<{ name: string }>): string {
  return items.map((item) => item.name).join("\n");
}

/** CPU % and MEM columns appear when the entries carry live figures (see `withPsStats`). */
export function renderPsTable(entries: readonly PsEntry[]): string {
  const withStats = entries.some((entry) => entry.cpu_percent !== undefined);
  return renderTable(
    ["NAME", "IMAGE", "COMMAND", "STATUS", ...(withStats ? ["CPU %", "MEM"] : []), "PORTS"],
    entries.map((entry) => [
      entry.name,
      truncate(entry.image, 36),
      `"${truncate(entry.command, 38)}"`,
      colorStatus(entry.status),
      ...(withStats
        ? [formatPercent(entry.cpu_percent ?? null), formatBytes(entry.memory_bytes ?? null)]
        : []),
      truncate(entry.ports.join(", "), 32),
    ]),
  );
}

export function renderInspect(record: SandboxRecord): string {
  const spec = record.spec;
  const blocks = [
    fields([
      ["Name", record.name],
      ["Status", colorStatus(record.status)],
      ["Created", formatTimestamp(record.createdAt)],
      ["Updated", formatTimestamp(record.updatedAt)],
      ["Image", spec.image],
      ["Isolation", spec.isolation],
      ["Hostname", spec.hostname],
      ["User", spec.user ?? "(image default)"],
      ["Workdir", spec.workdir ?? "/"],
      ["Shell", spec.shell],
      ["Command", spec.command.length > 0 ? displayCommand(record) : "(shell)"],
    ]),
    section("Resources", [
      ["CPUs", String(spec.cpus)],
      ["Memory", `${Math.round(spec.memoryBytes / MIB)} MiB`],
      ["Disk", formatExactSize(spec.diskBytes)],
    ]),
    section("Limits", [
      ["Max duration", spec.maxDurationMs === null ? "none" : formatDurationMs(spec.maxDurationMs)],
      ["Idle timeout", spec.idleTimeoutMs === null ? "none" : formatDurationMs(spec.idleTimeoutMs)],
    ]),
    networkSection(spec.network),
    list("Environment", spec.env),
    list("Mounts", spec.mounts.map(describeMount)),
    list(
      "Scripts",
      spec.scripts.map(
        (script) =>
          `${script.name.padEnd(16)}→ /.msb/scripts/${script.name} (${formatSize(Buffer.byteLength(script.content))})`,
      ),
    ),
    lastRun(record),
  ];
  return blocks.filter((block) => block !== "").join("\n");
}

/** `--no-network` shows as none; records from before networking existed had loopback only. */
function networkSection(network: NetworkSpec | null | undefined): string {
  if (!network) return section("Network", [["Interfaces", "lo only"]]);
  return section("Network", [
    ["Egress", ["public only (default)", ...network.rules].join(", ")],
    ["DNS upstream", network.nameservers.length > 0 ? network.nameservers.join(", ") : "host resolv.conf"],
    ["DNS blocked", network.blockedDomains.length > 0 ? network.blockedDomains.join(", ") : "-"],
    ["Rebind guard", network.rebindProtection ? "on" : "off"],
    ["Connections", `at most ${network.maxConnections}`],
    ...tlsRows(network),
  ]);
}

/** Interception and secrets: each secret's name, hosts and violation action; never a value. */
function tlsRows(network: NetworkSpec): Array<[string, string]> {
  if (!network.tls) return [];
  const rows: Array<[string, string]> = [
    [
      "TLS intercept",
      `ports ${network.tls.ports.join(", ")}${network.tls.blockQuic ? ", QUIC blocked" : ""}`,
    ],
  ];
  if (network.tls.bypass.length > 0) rows.push(["TLS bypass", network.tls.bypass.join(", ")]);
  for (const secret of network.secrets ?? []) {
    rows.push(["Secret", `${secret.name} → ${secret.hosts.join(", ")}${secret.body ? " (body too)" : ""}`]);
  }
  if (network.secretViolation) rows.push(["On violation", network.secretViolation]);
  return rows;
}

/** Whole units where the size is a whole number of them (`4 GiB`, `64 MiB`), else `1.5 GiB`. */
export function formatExactSize(bytes: number): string {
  if (bytes >= GIB && bytes % GIB === 0) return `${bytes / GIB} GiB`;
  if (bytes >= MIB && bytes % MIB === 0) return `${bytes / MIB} MiB`;
  return formatSize(bytes);
}

function describeMount(mount: MountSpec): string {
  const target = mount.target.padEnd(16);
  if (mount.kind === "bind") return `${target}→ ${mount.source} (${mount.readonly ? "ro" : "rw"})`;
  if (mount.kind === "volume") return `${target}→ volume ${mount.name} (${mount.readonly ? "ro" : "rw"})`;
  return `${target}→ tmpfs${mount.sizeBytes === null ? "" : ` (${formatExactSize(mount.sizeBytes)})`}`;
}

function lastRun(record: SandboxRecord): string {
  if (record.startedAt === null) return "";
  const rows: Array<[string, string]> = [["Started", formatTimestamp(record.startedAt)]];
  if (record.supervisorPid !== null) rows.push(["Supervisor", `pid ${record.supervisorPid}`]);
  if (record.stoppedAt !== null) rows.push(["Stopped", formatTimestamp(record.stoppedAt)]);
  if (record.exitCode !== null || record.exitReason !== null) {
    const reason = record.exitReason === null ? "" : ` (${record.exitReason})`;
    rows.push(["Exit", `${record.exitCode ?? "-"}${reason}`]);
  }
  return section("Last run", rows);
}

function fields(rows: Array<[string, string]>): string {
  return rows.map(([key, value]) => `${`${key}:`.padEnd(16)}${value}`).join("\n");
}

function section(title: string, rows: Array<[string, string]>): string {
  return [`\n${colors.bold(title)}`, ...rows.map(([key, value]) => `  ${`${key}:`.padEnd(14)}${value}`)].join(
    "\n",
  );
}

function list(title: string, lines: string[]): string {
  if (lines.length === 0) return "";
  return [`\n${colors.bold(title)}`, ...lines.map((line) => `  ${line}`)].join("\n");
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
