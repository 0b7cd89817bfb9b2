// Applies one OCI layer (a tar stream) to the image tree, with overlay semantics:
// `.wh.<name>` deletes <name> from lower layers, `.wh..wh..opq` hides everything lower layers
// put in its directory (entries of the same layer stay, whatever the tar order), a path
// through a non-directory replaces it with a directory, missing parents are created, a
// re-declared directory keeps its children, and hard links share one inode. File data is
// streamed into the data area as it arrives.
import type { TarEntry } from "../tar/reader.ts";
import type { DataArea } from "./data-area.ts";
import { parseEntryPath } from "./entry-path.ts";
import { BLOCK_SIZE, EXTENDED_INODE_SIZE } from "./format.ts";
import { LayerError, layerName } from "./layer-error.ts";
import { type DirInode, type Inode, type InodeMeta, implicitDirMeta, lookupPath, newDir } from "./tree.ts";
import { sortXattrs, toXattrEntry, type XattrEntry, xattrAreaFits, xattrAreaSize } from "./xattr.ts";

const WHITEOUT = ".wh.";
const OPAQUE = ".wh..wh..opq";
const MAX_SYMLINK_TARGET = 4095;
const MAX_ID = 0xffffffff;

export class LayerApplier {
  /** Dropped xattrs of this layer: "name (reason)" → number of entries. */
  private readonly dropped = new Map<string, number>();

  constructor(
    private readonly root: DirInode,
    private readonly layer: number,
    private readonly label: string,
    private readonly data: DataArea,
  ) {}

  async apply(entries: AsyncIterable<TarEntry>): Promise<string[]> {
    for await (const entry of entries) await this.applyEntry(entry);
    return [...this.dropped].map(
      ([what, count]) =>
        `${layerName(this.label)}: dropped xattr ${what} on ${count} entr${count === 1 ? "y" : "ies"}`,
    );
  }

  private fail(entry: TarEntry, problem: string): never {
    throw new LayerError(this.label, `entry ${JSON.stringify(entry.path)} ${problem}`);
  }

  private parts(entry: TarEntry, path: string): string[] {
    const parsed = parseEntryPath(path);
    if ("error" in parsed) {
      const subject = path === entry.path ? "" : `hard link target ${JSON.stringify(path)} `;
      this.fail(entry, `${subject}${parsed.error}`);
    }
    return parsed.parts;
  }

  private async applyEntry(entry: TarEntry): Promise<void> {
    const parts = this.parts(entry, entry.path);
    const name = parts.pop();
    if (name === undefined) {
      if (entry.type !== "dir") this.fail(entry, "would replace the image root with a non-directory");
      Object.assign(this.root, this.meta(entry));
      return;
    }
    if (name.startsWith(WHITEOUT)) {
      this.applyWhiteout(parts, name);
      return;
    }
    const parent = this.walkToDir(parts);
    const existing = parent.children.get(name)?.inode;
    if (entry.type === "dir" && existing?.kind === "dir") {
      Object.assign(existing, this.meta(entry));
      parent.children.set(name, { inode: existing, layer: this.layer });
      return;
    }
    parent.children.set(name, { inode: await this.newInode(entry), layer: this.layer });
  }

  private applyWhiteout(parentParts: string[], name: string): void {
    if (name === OPAQUE) {
      this.pruneLower(this.walkToDir(parentParts));
      return;
    }
    if (name.startsWith(`${WHITEOUT}${WHITEOUT}`)) return; // aufs bookkeeping (.wh..wh.plnk etc.)
    const parent = lookupPath(this.root, parentParts);
    const target = name.slice(WHITEOUT.length);
    if (parent?.kind !== "dir") return;
    const child = parent.children.get(target);
    if (child === undefined) return;
    // A whiteout only hides lower layers: an entry this layer put there stays.
    if (child.layer < this.layer) parent.children.delete(target);
    else if (child.inode.kind === "dir") this.pruneLower(child.inode);
  }

  /** Removes everything lower layers put below `dir`, keeping what this layer added. */
  private pruneLower(dir: DirInode): void {
    for (const [name, child] of dir.children) {
      if (child.layer < this.layer) dir.children.delete(name);
      else if (child.inode.kind === "dir") this.pruneLower(child.inode);
    }
  }

  /** The directory at `parts`, creating missing ones and replacing non-directories on the way. */
  private walkToDir(parts: readonly string[]): DirInode {
    let dir = this.root;
    for (const part of parts) {
      const child = dir.children.get(part);
      const next = child?.inode.kind === "dir" ? child.inode : newDir(implicitDirMeta());
      dir.children.set(part, { inode: next, layer: this.layer });
      dir = next;
    }
    return dir;
  }

  private linkTarget(entry: TarEntry): Inode {
    const target = lookupPath(this.root, this.parts(entry, entry.linkname));
    const quoted = JSON.stringify(entry.linkname);
    if (target === undefined) this.fail(entry, `is a hard link to ${quoted}, which does not exist`);
    if (target.kind === "dir") this.fail(entry, `is a hard link to ${quoted}, which is a directory`);
    return target;
  }

  private async newInode(entry: TarEntry): Promise<Inode> {
    const meta = this.meta(entry);
    switch (entry.type) {
      case "dir":
        return newDir(meta);
      case "file":
        return this.newFile(entry, meta);
      case "symlink":
        return this.newSymlink(entry, meta);
      case "char":
      case "block":
        if (entry.devmajor > 0xfff || entry.devminor > 0xfffff) {
          this.fail(entry, `has device number ${entry.devmajor}:${entry.devminor}, too large for Linux`);
        }
        return { kind: entry.type, ...meta, major: entry.devmajor, minor: entry.devminor };
      case "fifo":
        return { kind: "fifo", ...meta };
      case "hardlink":
        return this.linkTarget(entry);
    }
  }

  private async newFile(entry: TarEntry, meta: InodeMeta): Promise<Inode> {
    const tail = entry.size % BLOCK_SIZE;
    // The worst-case (extended) inode size keeps this decision valid whatever build time the
    // writer picks later; inode metadata never changes after this point.
    const inlineTail = tail > 0 && EXTENDED_INODE_SIZE + xattrAreaSize(meta.xattrs) + tail <= BLOCK_SIZE;
    const stored = await this.data.writeFile(entry.body(), entry.size, inlineTail);
    return { kind: "file", ...meta, size: entry.size, ...stored };
  }

  private async newSymlink(entry: TarEntry, meta: InodeMeta): Promise<Inode> {
    const target = new TextEncoder().encode(entry.linkname);
    if (target.length === 0) this.fail(entry, "is a symlink with an empty target");
    if (target.length > MAX_SYMLINK_TARGET)
      this.fail(entry, `is a symlink with a ${target.length}-byte target`);
    const inline = EXTENDED_INODE_SIZE + xattrAreaSize(meta.xattrs) + target.length <= BLOCK_SIZE;
    const blkaddr = inline ? null : await this.data.writeBlocks(target);
    return { kind: "symlink", ...meta, target, blkaddr };
  }

  private meta(entry: TarEntry): InodeMeta {
    if (entry.uid > MAX_ID || entry.gid > MAX_ID) this.fail(entry, `has uid/gid ${entry.uid}/${entry.gid}`);
    const xattrs = this.xattrs(entry);
    if (!xattrAreaFits(xattrs)) this.fail(entry, "has more extended attributes than an EROFS inode holds");
    return {
      mode: entry.mode & 0o7777,
      uid: entry.uid,
      gid: entry.gid,
      mtime: entry.mtime,
      mtimeNsec: entry.mtimeNsec,
      xattrs,
    };
  }

  private xattrs(entry: TarEntry): XattrEntry[] {
    const entries: XattrEntry[] = [];
    for (const [name, value] of entry.xattrs) {
      const mapped = toXattrEntry(name, value);
      if (typeof mapped !== "string") {
        entries.push(mapped);
        continue;
      }
      const key = `${JSON.stringify(name)} (${mapped})`;
      this.dropped.set(key, (this.dropped.get(key) ?? 0) + 1);
    }
    return sortXattrs(entries);
  }
}
