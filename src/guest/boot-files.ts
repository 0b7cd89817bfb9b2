// The files a guest needs to start the agent: the msb binary itself and the C runtime it links
// against, each at the path the dynamic loader will look for it. Shared by every VMM's boot
// root (the qemu boot disk, libkrun's boot share) so both guests run the same set.
import { realpathSync } from "node:fs";
import { MsbError } from "../errors.ts";

export interface BootFile {
  /** Absolute path inside the guest's boot root. */
  guestPath: string;
  /** The host file whose contents go there (symlinks resolved). */
  hostPath: string;
  mode: number;
}

/** Where the agent binary sits in the boot root; the guest starts `/msb agent --vm`. */
export const GUEST_AGENT_PATH = "/msb";
export const GUEST_AGENT_ARGS = ["agent", "--vm"];

/**
 * Shared libraries named in `ldd` output, by the path the loader resolves them to:
 * `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)` and the interpreter line
 * `/lib64/ld-linux-x86-64.so.2 (0x...)`. The vDSO has no file and is skipped.
 */
export function parseLddOutput(text: string): string[] {
  const found: string[] = [];
  for (const line of text.split("\n")) {
    const arrow = line.match(/=>\s*(\/\S+)\s+\(0x[0-9a-f]+\)/);
    const bare = line.match(/^\s*(\/\S+)\s+\(0x[0-9a-f]+\)/);
    const path = arrow?.[1] ?? bare?.[1];
    if (path !== undefined && !found.includes(path)) found.push(path);
  }
  return found;
}

/** The agent binary and its libraries; a statically linked binary brings only itself. */
export function collectBootFiles(binary: string): BootFile[] {
  const ldd = Bun.spawnSync(["ldd", binary], { stdout: "pipe", stderr: "pipe" });
  const output = `${ldd.stdout.toString()}${ldd.stderr.toString()}`;
  if (!ldd.success && !/not a dynamic executable/.test(output)) {
    throw new MsbError(
      `cannot list the libraries of ${binary}: ${output.trim() || `ldd exited ${ldd.exitCode}`}`,
      {
        code: "unavailable",
        hint: "install ldd (Debian: libc-bin)",
      },
    );
  }
  const files: BootFile[] = [{ guestPath: GUEST_AGENT_PATH, hostPath: realpathSync(binary), mode: 0o755 }];
  for (const library of parseLddOutput(output)) {
    files.push({ guestPath: library, hostPath: realpathSync(library), mode: 0o755 });
  }
  return files;
}
