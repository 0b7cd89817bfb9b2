// The one error type msb throws on purpose: a code that maps to an exit status, a hint that
// says what to do, and an optional cause. The top-level handler in main.ts renders it.

export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  notFound: 3,
  conflict: 4,
  runtime: 5,
  permission: 6,
  unavailable: 7,
  interrupted: 130,
} as const;

export type ErrorCode = keyof typeof ExitCode;

export interface MsbErrorOptions {
  code?: ErrorCode;
  hint?: string;
  cause?: unknown;
}

export class MsbError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(message: string, options: MsbErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "MsbError";
    this.code = options.code ?? "runtime";
    this.hint = options.hint;
  }

  get exitCode(): number {
    return ExitCode[this.code];
  }
}

export class UsageError extends MsbError {
  constructor(message: string, hint?: string) {
    super(message, { code: "usage", hint });
    this.name = "UsageError";
  }
}

export class NotFoundError extends MsbError {
  constructor(message: string, hint?: string) {
    super(message, { code: "notFound", hint });
    this.name = "NotFoundError";
  }
}

export class ConflictError extends MsbError {
  constructor(message: string, hint?: string) {
    super(message, { code: "conflict", hint });
    this.name = "ConflictError";
  }
}

/** A failed system call: names the call and the errno so the message is actionable. */
export class SyscallError extends MsbError {
  readonly call: string;
  readonly errno: number;

  constructor(call: string, errno: number, detail?: string) {
    super(`${call}${detail ? ` ${detail}` : ""} failed: ${errnoName(errno)} (errno ${errno})`, {
      code: "runtime",
    });
    this.name = "SyscallError";
    this.call = call;
    this.errno = errno;
  }
}

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  4: "EINTR",
  5: "EIO",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  16: "EBUSY",
  17: "EEXIST",
  19: "ENODEV",
  22: "EINVAL",
  28: "ENOSPC",
  38: "ENOSYS",
  95: "EOPNOTSUPP",
};

export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

/** Messages of the cause chain below `error`, outermost first, without repeats. */
export function causeChain(error: unknown): string[] {
  const messages: string[] = [];
  let current = error instanceof Error ? error.cause : undefined;
  while (current !== undefined && current !== null && messages.length < 8) {
    const text = current instanceof Error ? current.message : String(current);
    if (text && !messages.includes(text)) messages.push(text);
    current = current instanceof Error ? current.cause : undefined;
  }
  return messages;
}
