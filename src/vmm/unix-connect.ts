// A connected unix stream socket as a raw file descriptor, for libkrun to read and write (the
// agent console port's host end). Bun's sockets do not expose their fds, so this goes through
// libc's socket(2) and connect(2).
import { closeSync } from "node:fs";
import { lastErrno, libcSymbols } from "../../ffi/libc.ts";
import { SyscallError, UsageError } from "../errors.ts";

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
/** sizeof(struct sockaddr_un): sa_family_t + 108 bytes of path. */
const SOCKADDR_UN_SIZE = 110;
const MAX_PATH_BYTES = 107;

/** struct sockaddr_un for `path` (NUL-terminated). */
export function sockaddrUn(path: string): Buffer {
  const encoded = Buffer.from(path, "utf8");
  if (encoded.length === 0 || encoded.length > MAX_PATH_BYTES || encoded.includes(0)) {
    throw new UsageError(
      `unix socket path ${path} is empty, contains NUL or is longer than ${MAX_PATH_BYTES} bytes`,
    );
  }
  const address = Buffer.alloc(SOCKADDR_UN_SIZE);
  address.writeUInt16LE(AF_UNIX, 0);
  encoded.copy(address, 2);
  return address;
}

/** A blocking stream socket connected to `path`; the caller owns the fd. */
export function connectUnixFd(path: string): number {
  const address = sockaddrUn(path);
  const libc = libcSymbols();
  const fd = libc.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new SyscallError("socket", lastErrno(), "(AF_UNIX)");
  if (libc.connect(fd, address, address.length) < 0) {
    const error = new SyscallError("connect", lastErrno(), `to ${path}`);
    closeSync(fd);
    throw error;
  }
  return fd;
}
