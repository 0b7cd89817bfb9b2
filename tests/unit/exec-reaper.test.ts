// The orphan reaper: the /proc parsing and selection as pure functions, and (as root) a Bun
// process as PID 1 of a new pid namespace, where orphans must be reaped while every exit status
// of Bun's own children still arrives intact.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { orphanZombies, type ProcStat, parseProcStat, pidfdHolders } from "../../src/agent/reaper.ts";
import { announceSkip, firstSkipReason, requireRoot, requireTool } from "../helpers/skip.ts";

describe("parseProcStat", () => {
  test("reads pid, state and ppid, even with spaces and parentheses in the name", () => {
    expect(parseProcStat("42 (sleep) Z 1 42 42 0 -1 4194564 0")).toEqual({ pid: 42, ppid: 1, state: "Z" });
    expect(parseProcStat("7 (a (b) c) S 3 7 7 0")).toEqual({ pid: 7, ppid: 3, state: "S" });
    expect(parseProcStat("garbage")).toBeNull();
  });
});

describe("orphanZombies", () => {
  const processes: ProcStat[] = [
    { pid: 10, ppid: 1, state: "Z" },
    { pid: 11, ppid: 1, state: "Z" },
    { pid: 12, ppid: 1, state: "Z" },
    { pid: 13, ppid: 1, state: "S" },
    { pid: 14, ppid: 5, state: "Z" },
  ];

  test("selects zombie children of self that neither Bun nor the caller owns", () => {
    expect(orphanZombies(processes, 1, (pid) => pid === 12, new Set([11]))).toEqual([10]);
    expect(orphanZombies(processes, 5, () => false, new Set())).toEqual([14]);
  });
});

describe("pidfdHolders", () => {
  test("includes the children Bun is waiting for", async () => {
    const child = Bun.spawn(["sleep", "0.2"]);
    expect(pidfdHolders().has(child.pid)).toBe(true);
    await child.exited;
  });
});

const namespaceSkip = announceSkip(
  "reaper in a pid namespace",
  firstSkipReason(requireRoot(), requireTool("unshare", "apt-get install util-linux")),
);

describe.skipIf(namespaceSkip !== undefined)("as PID 1 of a pid namespace", () => {
  let dir: string;
  let script: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "msb-reaper-"));
    script = join(dir, "pid1.ts");
    const reaperModule = resolve(import.meta.dir, "../../src/agent/reaper.ts");
    writeFileSync(
      script,
      `
      import { readdirSync, readFileSync } from "node:fs";
      import { startOrphanReaper } from ${JSON.stringify(reaperModule)};
      const reaper = process.argv[2] === "reap" ? startOrphanReaper(() => false, 20) : null;
      const orphanMakers = Array.from({ length: 5 }, () => Bun.spawn(["sh", "-c", "sleep 0.1 & sleep 0.2 & exit 0"]));
      const own = Array.from({ length: 30 }, (_, i) => Bun.spawn(["sh", "-c", "sleep 0.0" + (i % 4) + "; exit " + i]));
      const codes = await Promise.all(own.map((child) => child.exited));
      await Promise.all(orphanMakers.map((child) => child.exited));
      await Bun.sleep(500);
      const zombies = readdirSync("/proc").filter((name) => /^\\d+$/.test(name)).filter((name) => {
        try { return / Z 1 /.test(readFileSync("/proc/" + name + "/stat", "utf8")); } catch { return false; }
      });
      reaper?.stop();
      console.log(JSON.stringify({ pid: process.pid, codes, zombies: zombies.length }));
      `,
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function runAsPid1(mode: "reap" | "no-reap") {
    const child = Bun.spawn(["unshare", "--pid", "--fork", "--mount-proc", process.execPath, script, mode], {
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stdout, stderr, code] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
      child.exited,
    ]);
    if (code !== 0) throw new Error(`pid-1 script failed (${code}): ${stderr}`);
    return JSON.parse(stdout) as { pid: number; codes: number[]; zombies: number };
  }

  test("without the reaper orphans stay zombies (the case the reaper exists for)", async () => {
    const result = await runAsPid1("no-reap");
    expect(result.pid).toBe(1);
    expect(result.zombies).toBe(10);
  }, 20_000);

  test("the reaper reaps every orphan and steals no exit status from Bun", async () => {
    const result = await runAsPid1("reap");
    expect(result.pid).toBe(1);
    expect(result.zombies).toBe(0);
    expect(result.codes).toEqual(Array.from({ length: 30 }, (_, i) => i));
  }, 20_000);
});
