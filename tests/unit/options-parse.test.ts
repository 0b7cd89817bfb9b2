// The flag parsers behind `run`/`create`: every accepted spelling and every rejection, which
// must be a UsageError whose one-line message names the bad value.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageError } from "../../src/errors.ts";
import {
  generateSandboxName,
  hostnameFromName,
  isValidSandboxName,
  validateSandboxName,
} from "../../src/sandbox/names.ts";
import { formatDurationMs, parseDuration } from "../../src/sandbox/parse-duration.ts";
import { mergeEnv, parseEnvEntry } from "../../src/sandbox/parse-env.ts";
import {
  parseCpus,
  parseHostname,
  parseIsolation,
  parsePullPolicy,
  parseShell,
  parseUser,
  parseWorkdir,
} from "../../src/sandbox/parse-flags.ts";
import { parseTmpfs, parseVolume, validateGuestPath } from "../../src/sandbox/parse-mount.ts";
import { parseScript } from "../../src/sandbox/parse-script.ts";
import { GIB, MIB, parseMemory, parseSize } from "../../src/sandbox/parse-size.ts";

/** Runs `action`, expects a one-line UsageError, returns its message. */
function usageError(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    const message = (error as Error).message;
    expect(message).not.toContain("\n");
    return message;
  }
  throw new Error("expected a UsageError");
}

describe("sizes", () => {
  test.each([
    ["512M", 512 * MIB],
    ["512m", 512 * MIB],
    ["1G", GIB],
    ["1g", GIB],
    ["1.5G", 1.5 * GIB],
    ["2048", 2048 * MIB],
    ["1024K", MIB],
    ["64MiB", 64 * MIB],
    ["2GB", 2 * GIB],
    [" 1G ", GIB],
  ])("%s → %d bytes", (text, bytes) => expect(parseSize(text, "--memory")).toBe(bytes));

  test.each([
    ["0", "greater than zero"],
    ["0G", "greater than zero"],
    ["-1G", "invalid --memory size '-1G'"],
    ["lots", "invalid --memory size 'lots'"],
    ["", "invalid --memory size ''"],
    ["1X", "invalid --memory size '1X'"],
    ["1.G", "invalid --memory size '1.G'"],
    ["99999999999999T", "too large"],
  ])("rejects %s", (text, fragment) =>
    expect(usageError(() => parseSize(text, "--memory"))).toContain(fragment),
  );

  test("memory has a 64 MiB minimum and whole MiB", () => {
    expect(usageError(() => parseMemory("32M"))).toBe("--memory size '32M' is too small: the minimum is 64M");
    expect(usageError(() => parseMemory("1024K"))).toContain("minimum is 64M");
    expect(parseMemory("64M")).toBe(64 * MIB);
    expect(parseMemory("1.0001G")).toBe(1024 * MIB);
  });
});

describe("durations", () => {
  test.each([
    ["30s", 30_000],
    ["5m", 300_000],
    ["2h", 7_200_000],
    ["1h30m", 5_400_000],
    ["500ms", 500],
    ["90", 90_000],
    ["1d", 86_400_000],
    ["1.5h", 5_400_000],
    ["1m30s", 90_000],
  ])("%s → %d ms", (text, ms) => expect(parseDuration(text, "--max-duration")).toBe(ms));

  test.each(["", "0", "0s", "abc", "5x", "m5", "1h 30m", "-5s", "5mss", "s"])("rejects '%s'", (text) => {
    expect(usageError(() => parseDuration(text, "--idle-timeout"))).toContain(`'${text}'`);
  });

  test.each([
    [500, "500ms"],
    [1500, "1.5s"],
    [30_000, "30s"],
    [5_400_000, "1h30m"],
    [90_061_000, "1d1h1m1s"],
  ])("formats %d ms as %s, which parses back", (ms, text) => {
    expect(formatDurationMs(ms)).toBe(text);
    expect(parseDuration(text, "--max-duration")).toBe(ms);
  });
});

describe("names", () => {
  test.each(["a", "dev", "my_box.1-x", "A1", "x".repeat(63)])("accepts %s", (name) => {
    expect(isValidSandboxName(name)).toBe(true);
    expect(validateSandboxName(name)).toBe(name);
  });
  test.each(["", "-dev", ".dev", "_dev", "a b", "a/b", "x".repeat(64), "dév"])("rejects '%s'", (name) => {
    expect(usageError(() => validateSandboxName(name))).toContain(`'${name}'`);
  });
  test("auto names are msb- and 8 hex digits", () => {
    expect(generateSandboxName()).toMatch(/^msb-[0-9a-f]{8}$/);
    expect(generateSandboxName(() => Buffer.from([0, 1, 2, 255]))).toBe("msb-000102ff");
    expect(isValidSandboxName(generateSandboxName())).toBe(true);
  });
  test.each([
    ["dev", "dev"],
    ["my_box.local", "my-box-local"],
    ["x_", "x"],
    ["a".repeat(62) + "._", "a".repeat(62)],
  ])("hostname of %s is %s", (name, hostname) => expect(hostnameFromName(name)).toBe(hostname));
});

describe("env", () => {
  const host = { HOME: "/home/me", EMPTY: "" };
  test.each([
    ["A=1", "A=1"],
    ["A=", "A="],
    ["A=b=c", "A=b=c"],
    ["_X1=y", "_X1=y"],
    ["HOME", "HOME=/home/me"],
    ["EMPTY", "EMPTY="],
  ])("%s → %s", (entry, result) => expect(parseEnvEntry(entry, host)).toBe(result));

  test("a bare key unset on the host names the key", () => {
    expect(usageError(() => parseEnvEntry("MISSING", host))).toBe(
      "-e MISSING copies MISSING from your environment, but it is not set there",
    );
  });
  test.each(["=1", "1A=x", "A-B=x", "A B=x", ""])("rejects key of '%s'", (entry) => {
    expect(usageError(() => parseEnvEntry(entry, host))).toContain("invalid environment variable name");
  });
  test("later entries win by key, in place", () => {
    expect(mergeEnv(["PATH=/bin", "A=1", "B=2"], ["A=3", "C=4", "PATH=/x"])).toEqual([
      "PATH=/x",
      "A=3",
      "B=2",
      "C=4",
    ]);
  });
});

describe("mounts", () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "msb-options-"));
    mkdirSync(join(root, "home", "data"), { recursive: true });
    mkdirSync(join(root, "cwd", "src"), { recursive: true });
    writeFileSync(join(root, "cwd", "setup.sh"), "#!/bin/sh\necho hi\n");
    writeFileSync(join(root, "cwd", "big.sh"), Buffer.alloc(1024 * 1024 + 1));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const context = () => ({ cwd: join(root, "cwd"), home: join(root, "home") });

  test("host paths resolve against cwd and home", () => {
    expect(parseVolume("./src:/src", context())).toEqual({
      kind: "bind",
      source: join(root, "cwd", "src"),
      target: "/src",
      readonly: false,
    });
    expect(parseVolume("~/data:/data:ro", context())).toMatchObject({
      source: join(root, "home", "data"),
      readonly: true,
    });
    expect(parseVolume("../home:/h:rw", context())).toMatchObject({
      source: join(root, "home"),
      readonly: false,
    });
    expect(parseVolume(`${root}/cwd/src/:/x/y/`, context())).toMatchObject({ target: "/x/y" });
    expect(parseVolume(".:/work", context())).toMatchObject({ source: join(root, "cwd") });
  });

  test("a bare word is a named volume", () => {
    expect(parseVolume("cache:/cache:ro", context())).toEqual({
      kind: "volume",
      name: "cache",
      target: "/cache",
      readonly: true,
    });
  });

  test.each([
    ["./missing:/x", "does not exist"],
    ["/nonexistent-msb-path:/x", "/nonexistent-msb-path"],
    ["./src", "use -v SRC:DST"],
    ["./src:", "use -v SRC:DST"],
    [":/x", "use -v SRC:DST"],
    ["./src:/x:rx", "invalid mode 'rx'"],
    ["./src:/x:ro:extra", "use -v SRC:DST"],
    ["./src:x", "must be absolute"],
    ["./src:/", "root directory"],
    ["./src:/a/../b", "'..'"],
    ["./src:/proc", "/proc is reserved"],
    ["./src:/sys/fs", "/sys is reserved"],
    ["./src:/dev", "/dev is reserved"],
    ["./src:/.msb/scripts", "/.msb is reserved"],
    ["src/sub:/x", "host paths start with"],
    ["-bad:/x", "invalid volume source"],
    ["db.ext4:/x", "names ending in .ext4 are reserved"],
  ])("rejects %s", (spec, fragment) =>
    expect(usageError(() => parseVolume(spec, context()))).toContain(fragment),
  );

  test("reserved prefixes only match whole components", () => {
    expect(validateGuestPath("/devel", "x")).toBe("/devel");
    expect(validateGuestPath("/proc2/x", "x")).toBe("/proc2/x");
    expect(validateGuestPath("//a//b/", "x")).toBe("/a/b");
  });

  test("tmpfs with and without a size", () => {
    expect(parseTmpfs("/tmp")).toEqual({ kind: "tmpfs", target: "/tmp", sizeBytes: null });
    expect(parseTmpfs("/scratch:64M")).toEqual({ kind: "tmpfs", target: "/scratch", sizeBytes: 64 * MIB });
    expect(parseTmpfs("/scratch:128")).toMatchObject({ sizeBytes: 128 * MIB });
    expect(usageError(() => parseTmpfs("tmp"))).toContain("must be absolute");
    expect(usageError(() => parseTmpfs("/tmp:big"))).toContain("invalid --tmpfs size 'big'");
    expect(usageError(() => parseTmpfs("/tmp:10K"))).toContain("minimum is 1M");
    expect(usageError(() => parseTmpfs("/proc:1M"))).toContain("reserved");
  });

  test("scripts are read at parse time", () => {
    expect(parseScript("setup:./setup.sh", context())).toEqual({
      name: "setup",
      content: "#!/bin/sh\necho hi\n",
    });
    expect(parseScript("a.b-c_1:setup.sh", context())).toMatchObject({ name: "a.b-c_1" });
  });

  test.each([
    ["setup", "use --script NAME:PATH"],
    [":./setup.sh", "use --script NAME:PATH"],
    ["setup:", "use --script NAME:PATH"],
    ["bad/name:./setup.sh", "invalid script name 'bad/name'"],
    ["..:./setup.sh", "invalid script name '..'"],
    ["x:./missing.sh", "does not exist"],
    ["x:./src", "not a regular file"],
    ["x:./big.sh", "at most 1 MiB"],
  ])("rejects script %s", (spec, fragment) => {
    expect(usageError(() => parseScript(spec, context()))).toContain(fragment);
  });
});

describe("single-value flags", () => {
  test("cpus are whole numbers from 1 to the host's count", () => {
    expect(parseCpus("1", 8)).toBe(1);
    expect(parseCpus("8", 8)).toBe(8);
    for (const value of ["0", "9", "1.5", "-1", "two", ""]) {
      expect(usageError(() => parseCpus(value, 8))).toContain("from 1 to 8");
    }
    expect(usageError(() => parseCpus("300", 512))).toContain("from 1 to 255");
  });

  test.each(["root", "1000", "1000:1000", "app:staff", "_svc", "user.name", "a-b$"])("user %s", (user) => {
    expect(parseUser(user)).toBe(user);
  });
  test.each(["", ":", "1000:", ":1000", "a:b:c", "9999999999", "bad user", "-x"])(
    "rejects user '%s'",
    (user) => {
      expect(usageError(() => parseUser(user))).toContain(`'${user}'`);
    },
  );

  test("workdir, hostname, shell", () => {
    expect(parseWorkdir("/app")).toBe("/app");
    expect(usageError(() => parseWorkdir("app"))).toContain("absolute");
    expect(parseHostname("web-1")).toBe("web-1");
    for (const hostname of ["-web", "web-", "a_b", "a.b", "x".repeat(64), ""]) {
      expect(usageError(() => parseHostname(hostname))).toContain(`'${hostname}'`);
    }
    expect(parseShell("/bin/bash")).toBe("/bin/bash");
    expect(usageError(() => parseShell(""))).toContain("--shell");
  });

  test("pull policies", () => {
    expect(parsePullPolicy("always")).toBe("always");
    expect(parsePullPolicy("if-missing")).toBe("if-missing");
    expect(parsePullPolicy("never")).toBe("never");
    expect(usageError(() => parsePullPolicy("sometimes"))).toBe(
      "invalid --pull 'sometimes': use always, if-missing or never",
    );
  });

  test("isolation: flag, then MSB_ISOLATION, then vm", () => {
    expect(parseIsolation(undefined, {})).toBe("vm");
    expect(parseIsolation(undefined, { MSB_ISOLATION: "namespace" })).toBe("namespace");
    expect(parseIsolation(undefined, { MSB_ISOLATION: " " })).toBe("vm");
    expect(parseIsolation("vm", { MSB_ISOLATION: "namespace" })).toBe("vm");
    expect(usageError(() => parseIsolation("docker", {}))).toBe(
      "invalid --isolation 'docker': use vm or namespace",
    );
    expect(usageError(() => parseIsolation(undefined, { MSB_ISOLATION: "kvm" }))).toBe(
      "invalid MSB_ISOLATION 'kvm': use vm or namespace",
    );
  });
});
