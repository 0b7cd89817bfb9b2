// The guest's read-only boot disk: an EROFS image (written by msb's own EROFS writer) holding
// the agent binary, its C runtime (boot-files.ts) and the empty mount points the agent uses
// before it assembles the sandbox's root. The tar stream fed to the writer is generated here
// from the host files, so nothing is copied to a staging folder first.
import { buildRootfs } from "../image/rootfs-build.ts";
import type { BootFile } from "./boot-files.ts";

/** Mount points on the boot root: the kernel filesystems and the agent's scratch space. */
export const BOOT_ROOT_DIRS = ["proc", "sys", "dev", "run", "tmp"];

export async function writeBootDisk(files: BootFile[], outPath: string): Promise<void> {
  await buildRootfs([{ label: "msb boot files", open: () => bootTar(files) }], outPath);
}

async function* bootTar(files: BootFile[]): AsyncIterable<Uint8Array> {
  for (const dir of BOOT_ROOT_DIRS) yield ustarHeader(`${dir}/`, 0o755, 0, "5");
  for (const file of files) {
    const source = Bun.file(file.hostPath);
    const size = source.size;
    yield ustarHeader(file.guestPath.replace(/^\/+/, ""), file.mode, size, "0");
    for await (const chunk of source.stream()) yield chunk;
    const pad = (512 - (size % 512)) % 512;
    if (pad > 0) yield new Uint8Array(pad);
  }
  yield new Uint8Array(1024);
}

/** A ustar header (names split into prefix/name when longer than 100 bytes). */
export function ustarHeader(path: string, mode: number, size: number, typeflag: string): Uint8Array {
  const header = new Uint8Array(512);
  const encoder = new TextEncoder();
  const put = (offset: number, text: string) => header.set(encoder.encode(text), offset);
  const octal = (value: number, width: number) => `${value.toString(8).padStart(width - 1, "0")}\0`;
  let name = path;
  let prefix = "";
  if (encoder.encode(path).length > 100) {
    const cut = path.lastIndexOf("/", 155);
    prefix = path.slice(0, cut);
    name = path.slice(cut + 1);
  }
  put(0, name);
  put(100, octal(mode & 0o7777, 8));
  put(108, octal(0, 8));
  put(116, octal(0, 8));
  put(124, octal(size, 12));
  put(136, octal(0, 12));
  put(148, "        ");
  put(156, typeflag);
  put(257, "ustar\0");
  put(263, "00");
  put(345, prefix);
  const sum = header.reduce((total, byte) => total + byte, 0);
  put(148, `${sum.toString(8).padStart(6, "0")}\0 `);
  return header;
}
