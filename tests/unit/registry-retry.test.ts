import { describe, expect, test } from "bun:test";
import { MsbError } from "../../src/errors.ts";
import {
  backoffDelay,
  isRetryable,
  parseRetryAfter,
  TransientError,
  withRetry,
} from "../../src/image/registry/retry.ts";

const policy = { attempts: 4, baseDelayMs: 1 };

describe("withRetry", () => {
  test("retries transient failures until one succeeds", async () => {
    let calls = 0;
    const result = await withRetry(async () => {
      calls++;
      if (calls < 3) throw new TransientError("503");
      return "ok";
    }, policy);
    expect(result).toBe("ok");
    expect(calls).toBe(3);
  });

  test("gives up after the policy's attempts and throws the last failure", async () => {
    let calls = 0;
    const attempt = withRetry(async () => {
      calls++;
      throw new TransientError(`failure ${calls}`);
    }, policy);
    await expect(attempt).rejects.toThrow("failure 4");
    expect(calls).toBe(4);
  });

  test("does not retry MsbErrors or unknown errors", async () => {
    for (const error of [new MsbError("final"), new RangeError("bug")]) {
      let calls = 0;
      await expect(
        withRetry(async () => {
          calls++;
          throw error;
        }, policy),
      ).rejects.toBe(error);
      expect(calls).toBe(1);
    }
  });

  test("honours Retry-After over the backoff", async () => {
    const started = Date.now();
    let calls = 0;
    await withRetry(
      async () => {
        if (++calls === 1) throw new TransientError("429", { retryAfterMs: 150 });
      },
      { attempts: 2, baseDelayMs: 0 },
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  test("an abort during an attempt ends the retries with the abort's reason", async () => {
    const controller = new AbortController();
    let calls = 0;
    const attempt = withRetry(
      async () => {
        calls++;
        controller.abort(new Error("stopped"));
        throw new TransientError("503");
      },
      policy,
      controller.signal,
    );
    await expect(attempt).rejects.toThrow("stopped");
    expect(calls).toBe(1);
  });

  test("stops waiting when aborted", async () => {
    const controller = new AbortController();
    const attempt = withRetry(
      async () => {
        throw new TransientError("503", { retryAfterMs: 10_000 });
      },
      policy,
      controller.signal,
    );
    setTimeout(() => controller.abort(new Error("cancelled")), 10);
    await expect(attempt).rejects.toThrow("cancelled");
  });
});

test("network errors are retryable, others are not", () => {
  const reset = Object.assign(new TypeError("socket closed"), { code: "ECONNRESET" });
  const dns = Object.assign(new TypeError("getaddrinfo ENOTFOUND"), { code: "ENOTFOUND" });
  expect(isRetryable(reset)).toBe(true);
  expect(isRetryable(dns)).toBe(false);
  expect(isRetryable(new TransientError("x"))).toBe(true);
});

test("backoff doubles with jitter in [0.5, 1) and is capped", () => {
  const base = { attempts: 10, baseDelayMs: 100 };
  expect(backoffDelay(1, base, () => 0)).toBe(50);
  expect(backoffDelay(3, base, () => 0)).toBe(200);
  expect(backoffDelay(3, base, () => 0.999)).toBeLessThan(400);
  expect(backoffDelay(30, base, () => 0.5)).toBe(30_000);
});

test.each([
  [null, undefined],
  ["", undefined],
  ["2", 2000],
  ["0", 0],
  ["soon", undefined],
  ["99999", 30_000],
  ["Wed, 21 Oct 2015 07:28:05 GMT", 5000],
])("Retry-After %p → %p ms", (header, expected) => {
  const now = Date.parse("Wed, 21 Oct 2015 07:28:00 GMT");
  expect(parseRetryAfter(header, now)).toBe(expected as number | undefined);
});
