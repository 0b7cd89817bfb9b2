// Builds the guest's initramfs: busybox (static, from the host), the kernel modules the guest
// needs in dependency order, and /init (init-script.ts). Written as an uncompressed newc cpio,
// which every kernel unpacks without a decompressor.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { MsbError } from "../errors.ts";
import { type CpioEntry, writeCpio } from "./cpio.ts";
import { initScript } from "./init-script.ts";
import type { GuestKernel } from "./kernel.ts";
import { GUEST_MODULES, loadOrder, moduleDependsOf, normalizeModuleName } from "./module-deps.ts";

const BUSYBOX_CANDIDATES = ["/bin/busybox", "/usr/bin/busybox"];

export function findBusybox(): string {
  for (const path of BUSYBOX_CANDIDATES) {
    try {
      if (isStaticElf(readFileSync(path))) return path;
    } catch {
      // Not there; try the next place.
    }
  }
  throw new MsbError(
    `no static busybox for the guest's initramfs (looked at ${BUSYBOX_CANDIDATES.join(", ")})`,
    {
      code: "unavailable",
      hint: "apt-get install busybox-static",
    },
  );
}

/** An ELF64 executable without a PT_INTERP program header needs no loader or libraries. */
export function isStaticElf(bytes: Uint8Array): boolean {
  const PT_INTERP = 3;
  if (bytes.length < 64 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[4] !== 2) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const phoff = Number(view.getBigUint64(0x20, true));
  const phentsize = view.getUint16(0x36, true);
  const phnum = view.getUint16(0x38, true);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 4 > bytes.length) return false;
    if (view.getUint32(at, true) === PT_INTERP) return false;
  }
  return true;
}

/** The guest's modules and their dependencies, in load order, with their bytes. */
export function guestModules(kernel: GuestKernel): { order: string[]; bytes: (name: string) => Uint8Array } {
  const files = moduleFiles(kernel.modulesDir);
  const cache = new Map<string, Uint8Array>();
  const bytes = (name: string) => {
    let data = cache.get(name);
    if (!data) {
      data = readFileSync(files.get(name) as string);
      cache.set(name, data);
    }
    return data;
  };
  const order = loadOrder(GUEST_MODULES, (name) => (files.has(name) ? moduleDependsOf(bytes(name)) : null));
  return { order, bytes };
}

export function buildInitramfs(kernel: GuestKernel, busybox: string): Uint8Array {
  const { order, bytes } = guestModules(kernel);
  const entries: CpioEntry[] = [
    ...["bin", "dev", "proc", "sys", "lib", "lib/modules", "newroot"].map(
      (path): CpioEntry => ({ kind: "dir", path, mode: 0o755 }),
    ),
    { kind: "file", path: "bin/busybox", mode: 0o755, data: readFileSync(busybox) },
    { kind: "symlink", path: "bin/sh", target: "busybox" },
    ...order.map(
      (name): CpioEntry => ({ kind: "file", path: `lib/modules/${name}.ko`, mode: 0o644, data: bytes(name) }),
    ),
    { kind: "file", path: "init", mode: 0o755, data: new TextEncoder().encode(initScript(order)) },
  ];
  return writeCpio(entries);
}

/** Every uncompressed module of the kernel by (normalized) name. */
function moduleFiles(modulesDir: string): Map<string, string> {
  const files = new Map<string, string>();
  const root = join(modulesDir, "kernel");
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".ko")) continue;
    files.set(normalizeModuleName(entry.name.slice(0, -3)), join(entry.parentPath, entry.name));
  }
  return files;
}
