// Normalisation of tar entry paths into components below the image root. Purely lexical:
// symlinks are never followed, so `..` is resolved against the names themselves.
import { MAX_NAME_BYTES } from "./format.ts";

export type EntryPath = { parts: string[] } | { error: string };

export function parseEntryPath(path: string): EntryPath {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (parts.length === 0) return { error: "escapes the image root" };
      parts.pop();
      continue;
    }
    if (part.includes("\0")) return { error: "contains a NUL byte" };
    const bytes = Buffer.byteLength(part);
    if (bytes > MAX_NAME_BYTES) {
      return { error: `has a name of ${bytes} bytes (the limit is ${MAX_NAME_BYTES})` };
    }
    parts.push(part);
  }
  return { parts };
}
