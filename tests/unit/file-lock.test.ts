// Advisory locks between processes: a held lock makes others wait or time out, a dead holder
// frees it, and many processes opening one new database at once all succeed.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { MIGRATIONS } from "../../src/store/migrations.ts";
import { acquireLock } from "../../src/util/file-lock.ts";

const SRC = resolve(import.meta.dir, "../../src");
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "msb-lock-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function holdInChild(lockPath: string, readyPath: string) {
  const script = `
    import { acquireLock } from ${JSON.stringify(join(SRC, "util/file-lock.ts"))};
    await acquireLock(${JSON.stringify(lockPath)});
    await Bun.write(${JSON.stringify(readyPath)}, "ready");
    await Bun.sleep(60_000);
  `;
  return Bun.spawn([process.execPath, "-e", script], { stdout: "ignore", stderr: "inherit" });
}

test("a lock held by another process times out, and is free once that process dies", async () => {
  const lockPath = join(dir, "item.lock");
  const ready = join(dir, "ready");
  const child = holdInChild(lockPath, ready);
  try {
    for (let waited = 0; !existsSync(ready); waited += 20) {
      if (waited > 10_000) throw new Error("the child never took the lock");
      await Bun.sleep(20);
    }
    await expect(acquireLock(lockPath, { timeoutMs: 150 })).rejects.toThrow(/timed out waiting for the lock/);
    child.kill("SIGKILL");
    await child.exited;
    const lock = await acquireLock(lockPath, { timeoutMs: 2_000 });
    lock.release();
  } finally {
    child.kill("SIGKILL");
  }
});

test("shared locks coexist and exclude an exclusive one", async () => {
  const lockPath = join(dir, "content.lock");
  const first = await acquireLock(lockPath, { shared: true });
  const second = await acquireLock(lockPath, { shared: true, timeoutMs: 100 });
  await expect(acquireLock(lockPath, { timeoutMs: 100 })).rejects.toThrow(/timed out/);
  first.release();
  second.release();
  (await acquireLock(lockPath, { timeoutMs: 100 })).release();
});

test("six processes opening the same new database at once all succeed", async () => {
  const dbPath = join(dir, "msb.db");
  const script = `
    import { openDatabase, schemaVersion } from ${JSON.stringify(join(SRC, "store/db.ts"))};
    const db = openDatabase(${JSON.stringify(dbPath)});
    console.log(schemaVersion(db));
  `;
  const children = Array.from({ length: 6 }, () =>
    Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" }),
  );
  const results = await Promise.all(
    children.map(async (child) => ({
      code: await child.exited,
      out: (await new Response(child.stdout).text()).trim(),
      err: await new Response(child.stderr).text(),
    })),
  );
  for (const result of results)
    expect(result).toEqual({ code: 0, out: String(MIGRATIONS.at(-1)!.version), err: "" });
});
