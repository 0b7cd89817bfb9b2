// Waiting for something with a time limit, without leaving a timer behind: a pending timer
// keeps a Bun process alive, and a timer that rejects later is an unhandled rejection.

/** Resolves with the promise's value, or with `fallback` once `ms` have passed. */
export async function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<F>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}
