// What the sandbox end-to-end suites share: the host preconditions (root, docker-registry, a
// static busybox, erofs/overlay/ext4, loop devices), the images they boot (built here over the
// host's busybox and pushed to a loopback registry), one pulled MSB_HOME per file, and ways to
// look at a sandbox from the host (its record, its cgroup, its processes, what it left behind).
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { hostCgroupView } from "../../src/backend/cgroup.ts";
import { cgroupDirs, detectCgroupLayout } from "../../src/backend/cgroup-plan.ts";
import {
  hostArchitecture,
  type ImageParts,
  layerFromEntries,
  makeImage,
  pushImage,
  type TarEntry,
} from "./image-builder.ts";
import { type LocalRegistry, startRegistry } from "./local-registry.ts";
import {
  describeRun,
  type MsbResult,
  type RunMsbOptions,
  requireMsbBinary,
  runMsb,
  runMsbOk,
  type TempDir,
  tempDir,
} from "./msb-cli.ts";
import {
  announceSkip,
  firstSkipReason,
  requireDockerRegistry,
  requireLinux,
  requireRoot,
  requireTool,
} from "./skip.ts";

export const BUSYBOX = "/usr/bin/busybox";
export const PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// ---- preconditions ------------------------------------------------------------------------------

/** A dynamically linked busybox would find no libc in the image. */
export function requireStaticBusybox(): string | undefined {
  if (!existsSync(BUSYBOX)) return `${BUSYBOX} not found (apt-get install busybox-static)`;
  const elf = readFileSync(BUSYBOX);
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) return `${BUSYBOX} is not a 64-bit ELF file`;
  const phoff = Number(elf.readBigUInt64LE(32));
  const [phentsize, phnum] = [elf.readUInt16LE(54), elf.readUInt16LE(56)];
  for (let i = 0; i < phnum; i++) {
    // PT_INTERP: it wants a dynamic loader.
    if (elf.readUInt32LE(phoff + i * phentsize) === 3)
      return `${BUSYBOX} is not static (apt-get install busybox-static)`;
  }
  return undefined;
}

export function requireSandboxFilesystems(): string | undefined {
  const known = existsSync("/proc/filesystems") ? readFileSync("/proc/filesystems", "utf8") : "";
  const missing = ["erofs", "overlay", "ext4"].filter((name) => !new RegExp(`\\b${name}\\b`).test(known));
  if (missing.length > 0) return `${missing.join(", ")} not in /proc/filesystems (modprobe them)`;
  return existsSync("/dev/loop-control") ? undefined : "no /dev/loop-control (modprobe loop)";
}

/** Why the sandbox suites cannot run here (printed), or undefined. */
export function sandboxSkipReason(suite: string): string | undefined {
  return announceSkip(
    suite,
    firstSkipReason(
      requireLinux(),
      requireRoot(),
      requireDockerRegistry(),
      requireSandboxFilesystems(),
      requireTool("unshare", "apt-get install util-linux"),
      requireTool("/usr/sbin/mkfs.ext4", "apt-get install e2fsprogs"),
      requireStaticBusybox(),
    ),
  );
}

// ---- images -------------------------------------------------------------------------------------

/** Every applet the host's busybox has, so the guest has ps, id, stty, sleep, kill, ... */
function busyboxApplets(): string[] {
  const listed = Bun.spawnSync([BUSYBOX, "--list"]).stdout.toString().trim().split("\n");
  const applets = listed.filter((name) => /^[a-z0-9_.[-]+$/.test(name) && name !== "busybox");
  return applets.length > 0 ? applets : ["sh", "ls", "cat", "echo", "env", "true", "sleep", "id"];
}

export const FIXTURE_PASSWD = [
  "root:x:0:0:root:/root:/bin/sh",
  "user:x:1000:1000:user:/home/user:/bin/sh",
  "nobody:x:65534:65534:nobody:/nonexistent:/bin/false",
  "",
].join("\n");
export const FIXTURE_GROUP = ["root:x:0:", "user:x:1000:", "nogroup:x:65534:", ""].join("\n");

/** The root both images share: busybox with all its applets, users, /tmp, /srv/app. */
export async function busyboxRootLayer() {
  const entries: TarEntry[] = [
    { type: "dir", path: "bin" },
    { type: "file", path: "bin/busybox", data: await Bun.file(BUSYBOX).bytes(), mode: 0o755 },
    ...busyboxApplets().map(
      (applet): TarEntry => ({ type: "symlink", path: `bin/${applet}`, target: "busybox" }),
    ),
    { type: "dir", path: "etc" },
    { type: "file", path: "etc/passwd", data: FIXTURE_PASSWD },
    { type: "file", path: "etc/group", data: FIXTURE_GROUP },
    { type: "dir", path: "root", mode: 0o700 },
    { type: "dir", path: "home" },
    { type: "dir", path: "home/user", uid: 1000, gid: 1000, mode: 0o755 },
    { type: "dir", path: "srv" },
    { type: "dir", path: "srv/app", uid: 1000, gid: 1000, mode: 0o755 },
    { type: "file", path: "srv/app/marker", data: "image workdir\n" },
    { type: "dir", path: "tmp", mode: 0o1777 },
    { type: "dir", path: "usr" },
    { type: "dir", path: "usr/bin" },
    // Not executable: running it must fail with 126.
    { type: "file", path: "usr/bin/not-exec", data: "#!/bin/sh\necho never\n", mode: 0o644 },
    // Executable but neither ELF nor script: execve fails with ENOEXEC (spawn failure, 125).
    { type: "file", path: "usr/bin/bad-format", data: "\u0000\u0001\u0002 not a program\n", mode: 0o755 },
  ];
  return layerFromEntries(entries);
}

/** busybox with no ENTRYPOINT and CMD ["/bin/sh"]: a command after `--` runs as given. */
export async function plainBusyboxImage(): Promise<ImageParts> {
  return makeImage([await busyboxRootLayer()], {
    architecture: hostArchitecture(),
    cmd: ["/bin/sh"],
    env: [PATH_ENV],
  });
}

/** What the OCI-rules image declares. */
export const OCI_IMAGE_CONFIG = {
  entrypoint: ["/bin/sh", "-c"],
  cmd: ['echo "default cmd as $(id -u) in $(pwd) with $FROM_IMAGE"'],
  env: [PATH_ENV, "FROM_IMAGE=image-value", "OVERRIDE_ME=image"],
  workingDir: "/srv/app",
  user: "1000:1000",
};

/** The same root with ENTRYPOINT, CMD, Env, WorkingDir and User set. */
export async function ociRulesImage(): Promise<ImageParts> {
  return makeImage([await busyboxRootLayer()], { architecture: hostArchitecture(), ...OCI_IMAGE_CONFIG });
}

// ---- a pulled MSB_HOME per file -------------------------------------------------------------------

export interface SandboxEnv {
  registry: LocalRegistry;
  home: TempDir;
  /** Reference of the plain busybox image (pulled). */
  image: string;
  /** Reference of the OCI-rules image (pushed; pulled only when `pullOciImage`). */
  ociImage: string;
  /** An image pushed but never pulled, for --pull tests. */
  unpulledImage: string;
  msb(args: string[], options?: RunMsbOptions): Promise<MsbResult>;
  msbOk(args: string[], options?: RunMsbOptions): Promise<MsbResult>;
  /** msb run from another working directory (for relative -v and --script paths). */
  msbIn(cwd: string, args: string[], options?: RunMsbOptions): Promise<MsbResult>;
  /** `msb rm -f` of every sandbox still listed, then stops the registry and removes the home. */
  cleanup(): Promise<void>;
}

/**
 * Starts a registry, pushes the images, pulls the plain one (and the OCI one when asked) into a
 * fresh MSB_HOME. Every msb call gets MSB_ISOLATION=namespace.
 */
export async function setupSandboxEnv(options: { pullOciImage?: boolean } = {}): Promise<SandboxEnv> {
  requireMsbBinary();
  const registry = await startRegistry();
  // Short: socket paths under $MSB_HOME/run must stay under 108 bytes.
  const home = await tempDir("msb-sbx");
  const target = { url: registry.url };
  const plain = await pushImage(target, "test/busybox-plain", "latest", await plainBusyboxImage());
  const oci = await pushImage(target, "test/busybox-oci", "latest", await ociRulesImage());
  const unpulled = await pushImage(target, "test/busybox-unpulled", "latest", await plainBusyboxImage());
  const msb = (args: string[], extra: RunMsbOptions = {}) =>
    runMsb(args, {
      ...extra,
      msbHome: home.path,
      env: { MSB_ISOLATION: "namespace", ...extra.env },
    });
  const msbOk = async (args: string[], extra: RunMsbOptions = {}) => {
    const result = await msb(args, extra);
    if (result.code !== 0) throw new Error(describeRun(args, result));
    return result;
  };
  await msbOk(["pull", "-q", plain.reference]);
  if (options.pullOciImage) await msbOk(["pull", "-q", oci.reference]);
  return {
    registry,
    home,
    image: plain.reference,
    ociImage: oci.reference,
    unpulledImage: unpulled.reference,
    msb,
    msbOk,
    msbIn: (cwd, args, extra = {}) =>
      runMsbInDir(cwd, args, {
        ...extra,
        msbHome: home.path,
        env: { MSB_ISOLATION: "namespace", ...extra.env },
      }),
    async cleanup() {
      const names = async (flags: string[]) => {
        const listed = await msb(["ls", "-q", ...flags]).catch(() => undefined);
        return (listed?.stdout ?? "").split("\n").filter(Boolean);
      };
      // A graceful stop first, so each supervisor removes its own runtime folder and cgroup.
      const running = await names(["--running"]);
      if (running.length > 0) await msb(["stop", "-t", "2", ...running]).catch(() => undefined);
      const all = await names([]);
      if (all.length > 0) await msb(["rm", "-f", ...all]).catch(() => undefined);
      await registry.stop();
      await home.remove();
    },
  };
}

/** runMsb from another working directory. */
export function runMsbInDir(cwd: string, args: string[], options: RunMsbOptions): Promise<MsbResult> {
  return runMsb(args, { ...options, cwd });
}

/** Re-exported so files need one import. */
export { describeRun, runMsb, runMsbOk };

// ---- looking at a sandbox from the host ---------------------------------------------------------

export interface InspectedSandbox {
  id: string;
  name: string;
  status: string;
  supervisor_pid: number | null;
  ephemeral: boolean;
  exit_reason: string | null;
  config: {
    hostname: string;
    env: string[];
    workdir: string | null;
    user: string | null;
    command: string[];
    memoryBytes: number;
    cpus: number;
    mounts: unknown[];
  };
}

export async function inspectSandbox(env: SandboxEnv, name: string): Promise<InspectedSandbox> {
  const result = await env.msbOk(["inspect", name, "--format", "json"]);
  return JSON.parse(result.stdout) as InspectedSandbox;
}

export interface LsRow {
  name: string;
  status: string;
  image: string;
  created_at: string;
}

export async function lsJson(env: SandboxEnv, flags: string[] = []): Promise<LsRow[]> {
  const result = await env.msbOk(["ls", "--format", "json", ...flags]);
  return JSON.parse(result.stdout) as LsRow[];
}

export async function statusOf(env: SandboxEnv, name: string): Promise<string | undefined> {
  return (await lsJson(env)).find((row) => row.name === name)?.status;
}

/** Polls `msb ls` until `name` has one of `statuses`; returns the last status seen. */
export async function waitForStatus(
  env: SandboxEnv,
  name: string,
  statuses: string[],
  timeoutMs = 15_000,
): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  let status = await statusOf(env, name);
  while (!statuses.includes(status ?? "") && Date.now() < deadline) {
    await Bun.sleep(200);
    status = await statusOf(env, name);
  }
  return status;
}

/** The sandbox's memory limit as the host's cgroup has it, and the file it came from. */
export function cgroupMemoryLimit(sandboxId: string): { file: string; bytes: number } {
  const dirs = cgroupDirs(detectCgroupLayout(hostCgroupView()), sandboxId);
  for (const dir of dirs) {
    for (const name of ["memory.max", "memory.limit_in_bytes"]) {
      const file = join(dir, name);
      if (existsSync(file)) return { file, bytes: Number(readFileSync(file, "utf8").trim()) };
    }
  }
  throw new Error(`no memory limit file in the cgroup dirs of ${sandboxId}: ${dirs.join(", ")}`);
}

/** The cgroup directories a sandbox would have (they exist only while it runs). */
export function sandboxCgroupDirs(sandboxId: string): string[] {
  return cgroupDirs(detectCgroupLayout(hostCgroupView()), sandboxId);
}

export function cgroupCpuQuota(sandboxId: string): { quotaUs: number; periodUs: number } | undefined {
  for (const dir of sandboxCgroupDirs(sandboxId)) {
    const v2 = join(dir, "cpu.max");
    if (existsSync(v2)) {
      const [quota = "max", period = "100000"] = readFileSync(v2, "utf8").trim().split(/\s+/);
      return { quotaUs: quota === "max" ? -1 : Number(quota), periodUs: Number(period) };
    }
    const v1 = join(dir, "cpu.cfs_quota_us");
    if (existsSync(v1)) {
      return {
        quotaUs: Number(readFileSync(v1, "utf8").trim()),
        periodUs: Number(readFileSync(join(dir, "cpu.cfs_period_us"), "utf8").trim()),
      };
    }
  }
  return undefined;
}

/** Whether `pid` still runs. A zombie has exited (this host's init may take a second to reap it). */
export function isAlive(pid: number): boolean {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === "") return false;
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0] !== "Z";
}

export async function waitForExit(pid: number, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await Bun.sleep(25);
  }
  return true;
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function cmdlineOf(pid: number): string {
  return readText(`/proc/${pid}/cmdline`).replaceAll("\0", " ");
}

function parentOf(pid: number): number {
  // The command name may contain spaces and parentheses: the fields start after the last ')'.
  const stat = readText(`/proc/${pid}/stat`);
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1] ?? 0);
}

function allPids(): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number);
}

/** Host pids of processes whose command line contains `needle` (not this test process). */
export function pidsWithCmdline(needle: string): number[] {
  return allPids().filter((pid) => pid !== process.pid && cmdlineOf(pid).includes(needle));
}

/** Pids of processes whose parent is `pid`. */
export function childrenOf(pid: number): number[] {
  return allPids().filter((candidate) => parentOf(candidate) === pid);
}

function argvOf(pid: number): string[] {
  return readText(`/proc/${pid}/cmdline`).split("\0").slice(0, -1);
}

/** Host pids of sandbox agents (`msb agent <boot.json>`), not of the unshare wrapping them. */
export function agentPids(): number[] {
  return allPids().filter((pid) => {
    const argv = argvOf(pid);
    return argv[1] === "agent" && (argv[2] ?? "").endsWith("boot.json");
  });
}

/** The agent (PID 1 of the sandbox) of a running sandbox: `msb agent <home>/run/<id>/boot.json`. */
export function agentPid(env: SandboxEnv, sandboxId: string): number | undefined {
  const runDir = join(env.home.path, "run", sandboxId);
  return agentPids().find((pid) => (argvOf(pid)[2] ?? "").startsWith(`${runDir}/`));
}

/** Every host process that mentions this MSB_HOME on its command line or as its executable. */
export function processesOfHome(env: SandboxEnv): { pid: number; cmdline: string }[] {
  const found: { pid: number; cmdline: string }[] = [];
  for (const pid of allPids()) {
    if (pid === process.pid) continue;
    const cmdline = cmdlineOf(pid);
    let environ = "";
    try {
      environ = readFileSync(`/proc/${pid}/environ`, "utf8");
    } catch {
      continue;
    }
    if (cmdline.includes(env.home.path) || environ.includes(`MSB_HOME=${env.home.path}\0`)) {
      found.push({ pid, cmdline });
    }
  }
  return found;
}

/** Loop devices whose backing file is under `dir` (from sysfs). */
export function loopDevicesUnder(dir: string): string[] {
  if (!existsSync("/sys/block")) return [];
  return readdirSync("/sys/block")
    .filter((name) => name.startsWith("loop"))
    .filter((name) => readText(`/sys/block/${name}/loop/backing_file`).startsWith(dir));
}

/** Mount points in the host's mount table that lie under `dir`, or whose source does. */
export function mountsUnder(dir: string): string[] {
  return readText("/proc/self/mountinfo")
    .split("\n")
    .filter((line) => line.includes(dir));
}

/** Entries of $MSB_HOME/<sub> (empty when missing). */
export function homeEntries(env: SandboxEnv, sub: string): string[] {
  const path = join(env.home.path, sub);
  return existsSync(path) ? readdirSync(path) : [];
}

/** Sockets left in $MSB_HOME/run (any depth 1 or 2). */
export function socketsUnderRun(env: SandboxEnv): string[] {
  const run = join(env.home.path, "run");
  if (!existsSync(run)) return [];
  const found: string[] = [];
  for (const entry of readdirSync(run, { withFileTypes: true })) {
    const path = join(run, entry.name);
    if (entry.isSocket()) found.push(path);
    if (entry.isDirectory()) {
      for (const inner of readdirSync(path, { withFileTypes: true })) {
        if (inner.isSocket()) found.push(join(path, inner.name));
      }
    }
  }
  return found;
}

/** Waits until no loop device or mount refers to the home (cleanup may lag a process exit). */
export async function expectNoHostLeftovers(
  env: SandboxEnv,
  timeoutMs = 5_000,
): Promise<{ loops: string[]; mounts: string[] }> {
  const deadline = Date.now() + timeoutMs;
  let loops = loopDevicesUnder(env.home.path);
  let mounts = mountsUnder(env.home.path);
  while ((loops.length > 0 || mounts.length > 0) && Date.now() < deadline) {
    await Bun.sleep(50);
    loops = loopDevicesUnder(env.home.path);
    mounts = mountsUnder(env.home.path);
  }
  return { loops, mounts };
}

/** The file a symlink in /proc points to, or "" (e.g. /proc/<pid>/exe). */
export function procLink(pid: number, name: string): string {
  try {
    return readlinkSync(`/proc/${pid}/${name}`);
  } catch {
    return "";
  }
}

/** Runs a plain command on the host and returns its stdout. */
export function hostCommand(argv: string[]): string {
  const result = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  return result.stdout.toString();
}
