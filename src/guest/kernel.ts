// Finds the guest kernel: a vmlinuz with its modules tree, from the host (/boot and /lib/modules,
// where they are readable, as virtme-ng does) or from msb's own copy under MSB_HOME/lib/guest,
// which msb unpacks from the distribution's kernel package when the host has none (containers
// and custom host kernels often leave /boot empty). Nothing is installed on the host.
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { MsbError } from "../errors.ts";
import { GUEST_MODULES, normalizeModuleName } from "./module-deps.ts";

export interface GuestKernel {
  version: string;
  vmlinuz: string;
  /** lib/modules/<version> */
  modulesDir: string;
}

/** Kernels under a root laid out like / (boot/vmlinuz-V, lib/modules/V/kernel), newest first. */
export function kernelsUnder(root: string): GuestKernel[] {
  let names: string[];
  try {
    names = readdirSync(join(root, "boot"));
  } catch {
    return [];
  }
  const kernels: GuestKernel[] = [];
  for (const name of names) {
    if (!name.startsWith("vmlinuz-")) continue;
    const version = name.slice("vmlinuz-".length);
    const kernel = {
      version,
      vmlinuz: join(root, "boot", name),
      modulesDir: join(root, "lib", "modules", version),
    };
    if (readable(kernel.vmlinuz) && existsSync(join(kernel.modulesDir, "kernel"))) kernels.push(kernel);
  }
  return kernels.sort((a, b) => compareVersions(b.version, a.version));
}

export function compareVersions(a: string, b: string): number {
  const parts = (text: string) =>
    text.split(/[.-]/).map((part) => (/^\d+$/.test(part) ? Number(part) : part));
  const left = parts(a);
  const right = parts(b);
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const x = left[i] ?? -1;
    const y = right[i] ?? -1;
    if (x === y) continue;
    if (typeof x === "number" && typeof y === "number") return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return 0;
}

/**
 * The host's kernel, else msb's unpacked copy, else unpack the distribution's package now. The
 * copy keeps only the modules `keepModules` picks (a few hundred kilobytes instead of the
 * package's 400 MB) and is unpacked again when that list changes.
 */
export function findGuestKernel(
  guestLib: string,
  keepModules: (kernel: GuestKernel) => Set<string>,
  hostRoot = "/",
): GuestKernel {
  // A host kernel whose modules msb cannot load (compressed .ko.xz/.ko.zst) would boot without disks.
  const host = kernelsUnder(hostRoot).find((kernel) => bootsDisks(kernel, keepModules(kernel)));
  if (host) return host;
  const unpacked = join(guestLib, "kernel");
  const marker = join(unpacked, "msb-modules");
  const cached = kernelsUnder(unpacked)[0];
  if (cached && readText(marker) === KEPT_MODULES_MARK) return cached;
  rmSync(unpacked, { recursive: true, force: true });
  unpackDistributionKernel(unpacked);
  const fetched = kernelsUnder(unpacked)[0];
  if (!fetched)
    throw new MsbError(`the kernel package unpacked into ${unpacked} holds no vmlinuz with modules`);
  pruneModules(fetched, keepModules(fetched));
  writeFileSync(marker, KEPT_MODULES_MARK);
  return fetched;
}

/** virtio_mmio and virtio_blk are modules msb can load, or built into the kernel. */
function bootsDisks(kernel: GuestKernel, loadable: Set<string>): boolean {
  const builtin = readText(join(kernel.modulesDir, "modules.builtin")) ?? "";
  return ["virtio_mmio", "virtio_blk"].every(
    (name) => loadable.has(name) || builtin.split("\n").some((line) => line.endsWith(`/${name}.ko`)),
  );
}

/** Changes whenever the set of modules msb keeps could change. */
const KEPT_MODULES_MARK = GUEST_MODULES.join(",");

function pruneModules(kernel: GuestKernel, keep: Set<string>): void {
  const root = join(kernel.modulesDir, "kernel");
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const name = entry.name.replace(/\.ko(\.\w+)?$/, "");
    if (!keep.has(normalizeModuleName(name))) rmSync(join(entry.parentPath, entry.name));
  }
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

const KERNEL_METAPACKAGE = "linux-image-amd64";

/** apt-get download + dpkg-deb -x into `dir` (the package is never installed). */
function unpackDistributionKernel(dir: string): void {
  const hint = `install a kernel the guest can boot (apt-get install ${KERNEL_METAPACKAGE}), or make /boot/vmlinuz-* readable`;
  if (Bun.which("apt-get") === null || Bun.which("dpkg-deb") === null) {
    throw new MsbError("no guest kernel: /boot has no readable vmlinuz with modules", {
      code: "unavailable",
      hint,
    });
  }
  const depends = run(["apt-cache", "depends", KERNEL_METAPACKAGE], hint);
  const pkg = depends.match(/Depends:\s*(linux-image-\S+)/)?.[1];
  if (pkg === undefined) {
    throw new MsbError(`no guest kernel: apt knows no package behind ${KERNEL_METAPACKAGE}`, {
      code: "unavailable",
      hint: "run apt-get update",
    });
  }
  const staging = `${dir}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    run(["apt-get", "download", pkg], hint, staging);
    const deb = readdirSync(staging).find((name) => name.endsWith(".deb"));
    if (deb === undefined) throw new MsbError(`apt-get download ${pkg} left no .deb`, { hint });
    const tree = join(staging, "tree");
    run(["dpkg-deb", "-x", join(staging, deb), tree], hint);
    mkdirSync(dir, { recursive: true });
    const version = pkg.slice("linux-image-".length);
    for (const part of ["boot", "lib"]) {
      const target = join(dir, part);
      mkdirSync(target, { recursive: true });
      for (const name of readdirSync(join(tree, part))) {
        if (part === "boot" && !name.endsWith(version)) continue;
        rmSync(join(target, name), { recursive: true, force: true });
        renameSync(join(tree, part, name), join(target, name));
      }
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

function run(argv: string[], hint: string, cwd?: string): string {
  const result = Bun.spawnSync(argv, { cwd, stdout: "pipe", stderr: "pipe" });
  if (!result.success) {
    const why = result.stderr.toString().trim().split("\n").pop() ?? `exit status ${result.exitCode}`;
    throw new MsbError(`no guest kernel: ${argv.join(" ")} failed: ${why}`, { code: "unavailable", hint });
  }
  return result.stdout.toString();
}

function readable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}
