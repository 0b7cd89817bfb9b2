// Bounded retries with exponential backoff and jitter for registry requests, and the sorting of
// failures into those a second try can fix (dropped or refused connections, 5xx, 429, short
// bodies) and final ones.
import { MsbError } from "../../errors.ts";
import type { RetryPolicy } from "./types.ts";

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 500 };

/** A registry may ask for a long pause; msb waits at most this long between tries. */
const MAX_DELAY_MS = 30_000;

const NETWORK_ERROR_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "ConnectionClosed",
  "ConnectionRefused",
]);

/** A failure worth another try; `retryAfterMs` carries the server's Retry-After. */
export class TransientError extends Error {
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options: { retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "TransientError";
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** Runs `operation` until it succeeds, fails for good, or the policy's attempts are used up. */
export async function withRetry<T>(
  operation: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  signal?: AbortSignal,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (signal?.aborted) throw signal.reason ?? error;
      if (attempt >= policy.attempts || !isRetryable(error)) throw error;
      const retryAfter = error instanceof TransientError ? error.retryAfterMs : undefined;
      await sleep(retryAfter ?? backoffDelay(attempt, policy), signal);
    }
  }
}

export function isRetryable(error: unknown): boolean {
  if (error instanceof MsbError) return false;
  if (error instanceof TransientError) return true;
  return isNetworkError(error);
}

/** A failure to talk to the server at all, as opposed to an answer it gave. */
export function isNetworkError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return error.name === "TimeoutError" || (typeof code === "string" && NETWORK_ERROR_CODES.has(code));
}

/** `baseDelay * 2^(attempt-1)`, scaled by a random factor in [0.5, 1) so clients spread out. */
export function backoffDelay(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const exponential = policy.baseDelayMs * 2 ** (attempt - 1);
  return Math.min(MAX_DELAY_MS, exponential * (0.5 + random() / 2));
}

/** Retry-After in milliseconds from its seconds or HTTP-date form; undefined when absent or bad. */
export function parseRetryAfter(header: string | null, now: number = Date.now()): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  const value = header.trim();
  const milliseconds = /^[0-9]+$/.test(value) ? Number(value) * 1000 : Date.parse(value) - now;
  if (Number.isNaN(milliseconds)) return undefined;
  return Math.min(MAX_DELAY_MS, Math.max(0, milliseconds));
}

function sleep(milliseconds: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, milliseconds);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** `fetch` whose network failures name the host and say whether a retry could help. */
export async function fetchOrFail(fetchFn: typeof fetch, url: URL, init: RequestInit): Promise<Response> {
  try {
    return await fetchFn(url, init);
  } catch (error) {
    throw networkFailure(url.host, error, init.signal ?? undefined);
  }
}

/** Wraps an error raised while talking to `host`: transient if a retry may help, else final. */
export function networkFailure(host: string, error: unknown, signal?: AbortSignal): unknown {
  if (signal?.aborted || error instanceof MsbError || error instanceof TransientError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  const message = `cannot reach ${host}: ${detail}`;
  if (isNetworkError(error)) return new TransientError(message, { cause: error });
  return new MsbError(message, { code: "unavailable", cause: error });
}
