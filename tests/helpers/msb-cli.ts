// Runs the compiled `dist/msb` the way a user would: a separate process with its own MSB_HOME
// (a temp dir), NO_COLOR, no TTY, and a time limit so a hung command fails the test instead of
// stalling the suite.
import { existsSync, readdirSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { BunFile } from "bun";

export const REPO_ROOT = resolve(import.meta.dir, "../..");
export const MSB_BINARY = join(REPO_ROOT, "dist/msb");

export interface MsbResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunMsbOptions {
  env?: Record<string, string>;
  stdin?: string | Uint8Array | BunFile;
  /** MSB_HOME for this run; without it the run gets a fresh one, removed afterwards. */
  msbHome?: string;
  timeoutMs?: number;
  /** Working directory of msb (default: the test's), for relative -v and --script paths. */
  cwd?: string;
  /** The argv actually run, given [MSB_BINARY, ...args] (e.g. under unshare, as the supervisor does). */
  wrap?: (command: string[]) => string[];
}

export function requireMsbBinary(): void {
  if (!existsSync(MSB_BINARY)) throw new Error(`${MSB_BINARY} is missing: run 'bun run build' first`);
}

export async function runMsb(args: string[], options: RunMsbOptions = {}): Promise<MsbResult> {
  requireMsbBinary();
  const ownHome = options.msbHome === undefined ? await tempMsbHome() : undefined;
  const home = options.msbHome ?? ownHome!.path;
  const stdin = typeof options.stdin === "string" ? new TextEncoder().encode(options.stdin) : options.stdin;
  try {
    const command = [MSB_BINARY, ...args];
    const child = Bun.spawn(options.wrap ? options.wrap(command) : command, {
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      env: { ...process.env, MSB_HOME: home, NO_COLOR: "1", ...options.env },
      stdin: stdin ?? "ignore",
      stdout: "pipe",
      stderr: "pipe",
      timeout: options.timeoutMs ?? 60_000,
    });
    const [stdout, stderr, code] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
      child.exited,
    ]);
    if (child.signalCode) {
      return { code, stdout, stderr: `${stderr}\n[msb ${args.join(" ")} killed by ${child.signalCode}]` };
    }
    return { code, stdout, stderr };
  } finally {
    await ownHome?.remove();
  }
}

/** Like runMsb, but throws (with the full output) unless the command exits 0. */
export async function runMsbOk(args: string[], options: RunMsbOptions = {}): Promise<MsbResult> {
  const result = await runMsb(args, options);
  if (result.code !== 0) throw new Error(describeRun(args, result));
  return result;
}

export function describeRun(args: string[], result: MsbResult): string {
  return `msb ${args.join(" ")} exited ${result.code}\n--- stdout\n${result.stdout}--- stderr\n${result.stderr}`;
}

export interface TempDir {
  path: string;
  remove(): Promise<void>;
}

export async function tempDir(prefix: string): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), `${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export function tempMsbHome(): Promise<TempDir> {
  return tempDir("msb-home");
}

/** Names of the files under `$MSB_HOME/<sub>` (empty when the directory does not exist). */
export function listDir(home: string, sub: string): string[] {
  const dir = join(home, sub);
  return existsSync(dir) && statSync(dir).isDirectory() ? readdirSync(dir) : [];
}

// ---- what msb wrote ---------------------------------------------------------------------------

/** `$MSB_HOME/images/<manifest hex>/rootfs.erofs`, the read-only root msb builds per image. */
export function rootfsPath(home: string, manifestDigest: string): string {
  return join(home, "images", manifestDigest.replace(/^sha256:/, ""), "rootfs.erofs");
}

/**
 * Checks an EROFS image with `fsck.erofs --extract` into a fresh temp dir and returns the dir.
 * fsck.erofs 1.5 exits 0 on some corruptions (bad checksums), so any `<E>` line fails too.
 */
export async function extractErofs(imagePath: string): Promise<TempDir> {
  const out = await tempDir("msb-erofs");
  const child = Bun.spawn(["fsck.erofs", `--extract=${out.path}`, imagePath], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  if (code !== 0 || /<E>/.test(stdout + stderr)) {
    await out.remove();
    throw new Error(`fsck.erofs ${imagePath} failed (exit ${code}):\n${stdout}${stderr}`);
  }
  return out;
}

/** The inode number (nid) dump.erofs reports for `path` inside an EROFS image. */
export function erofsNid(imagePath: string, path: string): string | undefined {
  const result = Bun.spawnSync(["dump.erofs", `--path=${path}`, imagePath]);
  return /NID:\s*(\d+)/.exec(result.stdout.toString())?.[1];
}
