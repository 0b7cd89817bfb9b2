// Streams an image archive (docker save or OCI layout tar) into the store's temp folder, one
// file per member, hashing as it writes, so no member is ever held in memory and every blob's
// digest is known without a second read.
import { mkdirSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { dirname, join, posix } from "node:path";
import { MsbError } from "../errors.ts";
import { readTar } from "../tar/reader.ts";
import { TarError } from "../tar/tar-error.ts";

export interface ArchiveMember {
  digest: string;
  size: number;
  file: string;
}

export interface ArchiveMembers {
  get(path: string): ArchiveMember | undefined;
  readText(path: string): Promise<string | undefined>;
  cleanup(): void;
}

export async function spoolArchive(
  source: AsyncIterable<Uint8Array>,
  tempRoot: string,
): Promise<ArchiveMembers> {
  const dir = join(tempRoot, `load-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const files = new Map<string, ArchiveMember>();
  const links = new Map<string, string>();
  try {
    let count = 0;
    for await (const entry of readTar(source)) {
      const path = normalize(entry.path);
      if (entry.type === "symlink")
        links.set(path, normalize(posix.join(posix.dirname(path), entry.linkname)));
      if (entry.type === "hardlink") links.set(path, normalize(entry.linkname));
      if (entry.type !== "file") continue;
      const file = join(dir, String(count++));
      files.set(path, await spoolMember(entry.body(), file));
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new MsbError("cannot read the image archive", {
      code: error instanceof TarError ? "usage" : "runtime",
      cause: error,
      hint: "pass an archive made by 'docker save' or an OCI image layout tar",
    });
  }
  const resolve = (path: string): ArchiveMember | undefined => {
    let current = normalize(path);
    for (let hops = 0; hops < 16; hops++) {
      const member = files.get(current);
      if (member) return member;
      const target = links.get(current);
      if (target === undefined) return undefined;
      current = target;
    }
    return undefined;
  };
  return {
    get: resolve,
    async readText(path) {
      const member = resolve(path);
      return member ? await Bun.file(member.file).text() : undefined;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function spoolMember(body: AsyncIterable<Uint8Array>, file: string): Promise<ArchiveMember> {
  mkdirSync(dirname(file), { recursive: true });
  const handle = await open(file, "w", 0o600);
  const hasher = new Bun.CryptoHasher("sha256");
  let size = 0;
  try {
    for await (const chunk of body) {
      hasher.update(chunk);
      size += chunk.length;
      await handle.write(chunk);
    }
  } finally {
    await handle.close();
  }
  return { digest: `sha256:${hasher.digest("hex")}`, size, file };
}

function normalize(path: string): string {
  return posix.normalize(path).replace(/^(\.\/|\/)+/, "");
}
