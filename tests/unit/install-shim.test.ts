// The shim file: what it execs (quoted for sh), its marker, the settings it carries, and that
// files msb did not write (or a later format) are never taken for a readable shim.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type InstallConfig,
  isShim,
  parseShim,
  renderShim,
  shellQuote,
} from "../../src/install/shim-file.ts";
import { inspectSlot, writeShim } from "../../src/install/shim-store.ts";

const CONFIG: InstallConfig = {
  format: 1,
  name: "python",
  image: "docker.io/library/python:3.12",
  command: ["python3"],
  persist: false,
  writable: false,
  flags: { memory: "1G", volume: ["/data:/data:ro"], env: ["TOKEN"] },
};
const TARGET = { msbArgv: ["/opt/msb dir/msb"], msbHome: "/root/.microsandbox", msbVersion: "0.1.0" };

describe("renderShim", () => {
  const text = renderShim(CONFIG, TARGET);

  test("is an sh script marked as msb's that execs msb with the name and the caller's arguments", () => {
    const lines = text.split("\n");
    expect(lines[0]).toBe("#!/bin/sh");
    expect(lines[1]).toStartWith("# msb-install-shim format=1 msb=0.1.0: ");
    expect(lines.at(-2)).toBe(`exec '/opt/msb dir/msb' run-installed python -- "$@"`);
    expect(text).toContain("MSB_HOME=/root/.microsandbox\nexport MSB_HOME\n");
  });

  test("carries its settings, read back unchanged", () => {
    expect(isShim(text)).toBe(true);
    expect(parseShim(text)).toEqual(CONFIG);
  });

  test("settings with newlines and quotes stay on the config line", () => {
    const tricky = { ...CONFIG, command: ["sh", "-c", "echo 'a'\nexit 3"] };
    const rendered = renderShim(tricky, TARGET);
    expect(rendered.split("\n")).toHaveLength(7);
    expect(parseShim(rendered).command).toEqual(tricky.command);
  });

  test("runs under sh: the exec line passes every argument through untouched", () => {
    const shim = renderShim(CONFIG, { ...TARGET, msbArgv: ["/bin/echo", "msb's"] });
    const result = Bun.spawnSync([
      "sh",
      "-c",
      shim.replace("#!/bin/sh\n", ""),
      "shim",
      "a b",
      "$HOME",
      "'q'",
    ]);
    expect(result.stdout.toString()).toBe("msb's run-installed python -- a b $HOME 'q'\n");
  });
});

describe("not a readable shim", () => {
  test.each([
    ["a plain script", "#!/bin/sh\necho hi\n"],
    ["a marker not on line 2", "#!/bin/sh\n# hello\n# msb-install-shim format=1\n"],
    ["another interpreter", "#!/bin/bash\n# msb-install-shim format=1\n"],
    ["a binary", "\u007fELF\u0002\u0001\u0001"],
  ])("%s is not a shim", (_what, text) => {
    expect(isShim(text)).toBe(false);
    expect(() => parseShim(text)).toThrow("no msb-install marker");
  });

  test("a later format is recognised as msb's but not read", () => {
    const text = renderShim({ ...CONFIG, format: 2 }, TARGET);
    expect(isShim(text)).toBe(true);
    expect(() => parseShim(text)).toThrow("format 2");
  });

  test("a marked file without settings is refused", () => {
    expect(() => parseShim("#!/bin/sh\n# msb-install-shim format=1\nexec true\n")).toThrow(
      "no msb-install-config line",
    );
  });
});

describe("shellQuote", () => {
  test.each([
    ["plain/path-1.0", "plain/path-1.0"],
    ["with space", "'with space'"],
    ["it's", `'it'\\''s'`],
    ["$HOME", "'$HOME'"],
    ["", "''"],
  ])("%j is %s", (value, quoted) => {
    expect(shellQuote(value)).toBe(quoted);
  });
});

describe("writeShim", () => {
  const dir = mkdtempSync(join(tmpdir(), "msb-shim-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const shim = renderShim(CONFIG, TARGET);

  test("creates an executable shim where nothing was", () => {
    const path = join(dir, "fresh");
    writeShim(path, shim, false);
    expect(inspectSlot(path).kind).toBe("shim");
    expect(Bun.file(path).size).toBe(shim.length);
  });

  test("never replaces a file msb did not write, even when asked to replace", async () => {
    const path = join(dir, "foreign");
    writeFileSync(path, "#!/bin/sh\necho mine\n", { mode: 0o755 });
    expect(() => writeShim(path, shim, true)).toThrow("not written by 'msb install'");
    expect(await Bun.file(path).text()).toBe("#!/bin/sh\necho mine\n");
  });

  test("replaces its own shim only when asked", () => {
    const path = join(dir, "own");
    writeShim(path, shim, false);
    expect(() => writeShim(path, shim, false)).toThrow("already an installed shim");
    const other = renderShim({ ...CONFIG, persist: true }, TARGET);
    writeShim(path, other, true);
    const slot = inspectSlot(path);
    expect(slot.kind === "shim" && parseShim(slot.text).persist).toBe(true);
  });

  test("leaves no temporary file behind", () => {
    expect(readdirSync(dir).filter((name) => name.includes("msb-tmp"))).toEqual([]);
  });
});
