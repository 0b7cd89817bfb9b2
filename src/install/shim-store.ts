// Shims on disk in $MSB_HOME/bin: what a path holds (nothing, one of msb's shims, or a file msb
// did not write), reading a shim's settings, and writing one without ever replacing a foreign
// file (a new shim is hard-linked into place, which fails if anything appeared meanwhile).
import {
  closeSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { MsbError, NotFoundError } from "../errors.ts";
import { type InstallConfig, isShim, MAX_SHIM_BYTES, parseShim } from "./shim-file.ts";

export type ShimSlot = { kind: "empty" } | { kind: "shim"; text: string } | { kind: "foreign" };

export function shimPath(binDir: string, name: string): string {
  return join(binDir, name);
}

export function inspectSlot(path: string): ShimSlot {
  let stats: ReturnType<typeof lstatSync>;
  try {
    stats = lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { kind: "empty" };
    throw error;
  }
  if (!stats.isFile() || stats.size > MAX_SHIM_BYTES) return { kind: "foreign" };
  const text = readHead(path, Number(stats.size));
  return isShim(text) ? { kind: "shim", text } : { kind: "foreign" };
}

/** The settings of the installed shim `name`; not found, or refused when msb did not write it. */
export function readInstall(binDir: string, name: string): InstallConfig {
  const path = shimPath(binDir, name);
  const slot = inspectSlot(path);
  if (slot.kind === "empty") {
    throw new NotFoundError(`not installed: ${name} (no ${path})`, "list installs with 'msb install --list'");
  }
  if (slot.kind === "foreign") {
    throw new MsbError(`${path} was not written by 'msb install'`, { code: "conflict" });
  }
  try {
    return parseShim(slot.text);
  } catch (error) {
    throw new MsbError(`cannot read the shim ${path}: ${(error as Error).message}`, {
      hint: `reinstall it with 'msb install --force --name ${name} <image>'`,
    });
  }
}

/**
 * Puts `text` at `path` as an executable. `replace` allows replacing an msb shim (checked again
 * just before); a path that holds anything else is never touched.
 */
export function writeShim(path: string, text: string, replace: boolean): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.msb-tmp-${process.pid}`;
  writeFileSync(temporary, text, { mode: 0o755 });
  try {
    const slot = inspectSlot(path);
    if (slot.kind === "foreign") throw occupied(path);
    if (slot.kind === "shim" && !replace) {
      throw new MsbError(`${path} is already an installed shim`, {
        code: "conflict",
        hint: "replace it with --force",
      });
    }
    if (slot.kind === "shim") renameSync(temporary, path);
    else {
      try {
        linkSync(temporary, path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EEXIST") throw occupied(path);
        throw error;
      }
    }
  } finally {
    rmSync(temporary, { force: true });
  }
}

function occupied(path: string): MsbError {
  return new MsbError(`${path} exists and was not written by 'msb install'; not replacing it`, {
    code: "conflict",
    hint: "choose another name with --name",
  });
}

function readHead(path: string, size: number): string {
  const fd = openSync(path, "r");
  try {
    const buffer = Buffer.alloc(Math.min(size, MAX_SHIM_BYTES));
    const read = readSync(fd, buffer, 0, buffer.length, 0);
    return buffer.subarray(0, read).toString("utf8");
  } finally {
    closeSync(fd);
  }
}
