// A newc ("070701") cpio archive, the format the Linux kernel unpacks as its initramfs. Only what
// an initramfs needs: directories, regular files, symlinks. Pure: entries in, bytes out.

export type CpioEntry =
  | { kind: "dir"; path: string; mode: number }
  | { kind: "file"; path: string; mode: number; data: Uint8Array }
  | { kind: "symlink"; path: string; target: string };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const TRAILER = "TRAILER!!!";

export function writeCpio(entries: CpioEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let offset = 0;
  const push = (bytes: Uint8Array) => {
    parts.push(bytes);
    offset += bytes.length;
    const pad = (4 - (offset % 4)) % 4;
    if (pad > 0) {
      parts.push(new Uint8Array(pad));
      offset += pad;
    }
  };
  let ino = 1;
  for (const entry of entries) {
    const name = entry.path.replace(/^\/+/, "");
    const body = bodyOf(entry);
    push(header(name, ino++, modeOf(entry), body.length));
    if (body.length > 0) push(body);
  }
  push(header(TRAILER, 0, 0, 0));
  const out = new Uint8Array(offset);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function modeOf(entry: CpioEntry): number {
  if (entry.kind === "dir") return S_IFDIR | (entry.mode & 0o7777);
  if (entry.kind === "file") return S_IFREG | (entry.mode & 0o7777);
  return S_IFLNK | 0o777;
}

function bodyOf(entry: CpioEntry): Uint8Array {
  if (entry.kind === "file") return entry.data;
  if (entry.kind === "symlink") return new TextEncoder().encode(entry.target);
  return new Uint8Array(0);
}

/** 110-byte header followed by the NUL-terminated name (padding is added by the caller). */
function header(name: string, ino: number, mode: number, size: number): Uint8Array {
  const nameBytes = new TextEncoder().encode(`${name}\0`);
  const fields = [ino, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, nameBytes.length, 0];
  const text = `070701${fields.map((value) => value.toString(16).padStart(8, "0")).join("")}`;
  const out = new Uint8Array(text.length + nameBytes.length);
  out.set(new TextEncoder().encode(text), 0);
  out.set(nameBytes, text.length);
  return out;
}
