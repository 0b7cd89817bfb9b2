// Advisory locks (flock) on files under MSB_HOME/locks, so two msb processes never write the
// same blob, image or store row at once. The kernel drops a lock when its holder dies, so a
// crashed process never leaves the store locked.
import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN, lastErrno, libcSymbols } from "../../ffi/libc.ts";
import { MsbError, SyscallError } from "../errors.ts";

const EWOULDBLOCK = 11;
const EINTR = 4;

export interface FileLock {
  release(): void;
}

export interface LockOptions {
  shared?: boolean;
  /** Give up after this many milliseconds (default: wait forever). */
  timeoutMs?: number;
  /** Called once when the lock is busy, so a caller can say what it waits for. */
  onWait?: () => void;
}

export async function acquireLock(path: string, options: LockOptions = {}): Promise<FileLock> {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, "a+", 0o600);
  const mode = (options.shared ? LOCK_SH : LOCK_EX) | LOCK_NB;
  const started = Date.now();
  let delay = 5;
  let announced = false;
  for (;;) {
    if (libcSymbols().flock(fd, mode) === 0) break;
    const errno = lastErrno();
    if (errno !== EWOULDBLOCK && errno !== EINTR) {
      closeSync(fd);
      throw new SyscallError("flock", errno, path);
    }
    if (!announced) {
      options.onWait?.();
      announced = true;
    }
    if (options.timeoutMs !== undefined && Date.now() - started >= options.timeoutMs) {
      closeSync(fd);
      throw new MsbError(`timed out waiting for the lock ${path}`, {
        code: "conflict",
        hint: "another msb process is working on the same item; retry when it finishes",
      });
    }
    await Bun.sleep(delay);
    delay = Math.min(delay * 2, 200);
  }
  return heldLock(fd);
}

/** Takes the lock if it is free right now; undefined when another process holds it. */
export function tryLock(path: string, options: { shared?: boolean } = {}): FileLock | undefined {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, "a+", 0o600);
  if (libcSymbols().flock(fd, (options.shared ? LOCK_SH : LOCK_EX) | LOCK_NB) === 0) return heldLock(fd);
  const errno = lastErrno();
  closeSync(fd);
  if (errno === EWOULDBLOCK || errno === EINTR) return undefined;
  throw new SyscallError("flock", errno, path);
}

/**
 * Blocks the thread until the lock is free: only for short critical sections at start-up
 * (opening and migrating the database), where there is nothing else to do meanwhile.
 */
export function acquireLockSync(path: string): FileLock {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, "a+", 0o600);
  while (libcSymbols().flock(fd, LOCK_EX) !== 0) {
    const errno = lastErrno();
    if (errno !== EINTR) {
      closeSync(fd);
      throw new SyscallError("flock", errno, path);
    }
  }
  return heldLock(fd);
}

function heldLock(fd: number): FileLock {
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      libcSymbols().flock(fd, LOCK_UN);
      closeSync(fd);
    },
  };
}
