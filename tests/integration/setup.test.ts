// scripts/setup.sh end to end with a temporary HOME and MSB_HOME: it builds and installs msb,
// copies libkrun/libkrunfw (recording stand-ins when a C compiler exists), writes the PATH block
// once, and a second run changes nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { compileStubLibkrun, compileStubLibkrunfw, findCCompiler } from "../helpers/stub-libkrun.ts";

const REPO = join(import.meta.dir, "../..");
const root = mkdtempSync(join(tmpdir(), "msb-setup-"));
const compiler = findCCompiler();
const stubLibs = join(root, "stub-libs");

beforeAll(async () => {
  if (compiler === undefined) return;
  await compileStubLibkrun(compiler, stubLibs, {
    logPath: join(root, "calls.jsonl"),
    groups: "all",
    features: { 0: 1, 1: 1 },
  });
  await compileStubLibkrunfw(compiler, stubLibs);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface SetupRun {
  exitCode: number;
  output: string;
}

function runSetup(
  home: string,
  msbHome: string,
  options: { args?: string[]; env?: Record<string, string> } = {},
): SetupRun {
  const child = Bun.spawnSync(["bash", join(REPO, "scripts/setup.sh"), ...(options.args ?? [])], {
    cwd: root,
    env: setupEnv(home, msbHome, options.env),
  });
  return { exitCode: child.exitCode, output: child.stdout.toString() + child.stderr.toString() };
}

/** Like runSetup, without blocking this process (a test serves files to the script meanwhile). */
async function runSetupAsync(
  home: string,
  msbHome: string,
  options: { args?: string[]; env?: Record<string, string> } = {},
): Promise<SetupRun> {
  const child = Bun.spawn(["bash", join(REPO, "scripts/setup.sh"), ...(options.args ?? [])], {
    cwd: root,
    env: setupEnv(home, msbHome, options.env),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { exitCode, output: stdout + stderr };
}

function setupEnv(home: string, msbHome: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: `${join(REPO, "node_modules/.bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    HOME: home,
    MSB_HOME: msbHome,
    SHELL: "/bin/bash",
    NO_COLOR: "1",
    ...extra,
  };
}

function freshHome(name: string): { home: string; msbHome: string } {
  const home = join(root, name, "home");
  mkdirSync(home, { recursive: true });
  return { home, msbHome: join(root, name, "msb") };
}

/** Names, sizes and symlink targets under `dir`, to compare two runs. */
function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .sort()
    .map((entry) => {
      const stats = lstatSync(join(dir, entry));
      if (stats.isSymbolicLink()) return `${entry} -> ${readlinkSync(join(dir, entry))}`;
      return stats.isDirectory() ? `${entry}/` : `${entry} ${stats.size}`;
    });
}

function msbVersion(msbHome: string): string {
  return Bun.spawnSync([join(msbHome, "bin/msb"), "--version"])
    .stdout.toString()
    .trim();
}

describe("scripts/setup.sh", () => {
  test("installs msb and the libraries, and a second run changes nothing (--no-modify-path)", () => {
    const { home, msbHome } = freshHome("no-path");
    const libraries: Record<string, string> =
      compiler === undefined ? {} : { MSB_LIBKRUN: join(stubLibs, "libkrun.so.1"), MSB_LIBKRUNFW: stubLibs };
    if (compiler === undefined) {
      console.warn("skip: setup library copy: no C compiler to build stand-in libraries");
    }

    const first = runSetup(home, msbHome, { args: ["--no-modify-path"], env: libraries });
    expect(first).toMatchObject({ exitCode: 0 });
    expect(msbVersion(msbHome)).toBe(`msb ${pkg.version}`);
    expect(first.output).toContain("msb doctor:");
    expect(first.output).toContain("VM sandboxes");
    for (const rc of [".bashrc", ".zshrc", ".profile"]) expect(existsSync(join(home, rc))).toBe(false);
    if (compiler !== undefined) {
      expect(readlinkSync(join(msbHome, "lib/libkrun.so.1"))).toBe("libkrun.so.1.19.7");
      expect(readlinkSync(join(msbHome, "lib/libkrunfw.so.5"))).toBe("libkrunfw.so.5.4.0");
      expect(first.output).toContain("✓ libkrun");
      expect(JSON.parse(readFileSync(join(msbHome, "lib/vmm-libraries.json"), "utf8"))).toMatchObject({
        libkrun: { path: join(msbHome, "lib/libkrun.so.1.19.7"), source: "system" },
        libkrunfw: { path: join(msbHome, "lib/libkrunfw.so.5.4.0"), source: "system" },
      });
    }
    const installed = tree(msbHome);

    const second = runSetup(home, msbHome, { args: ["--no-modify-path"], env: libraries });
    expect(second).toMatchObject({ exitCode: 0 });
    expect(tree(msbHome)).toEqual(installed);
    expect(msbVersion(msbHome)).toBe(`msb ${pkg.version}`);
    if (compiler !== undefined) {
      expect(second.output).toContain(`libkrun: ${msbHome}/lib/libkrun.so.1.19.7 is up to date`);
    }
  });

  test("says what is missing and carries on when libkrun is nowhere", () => {
    const { home, msbHome } = freshHome("no-libs");
    const run = runSetup(home, msbHome, {
      args: ["--no-modify-path"],
      env: {
        MSB_LIBKRUN: join(root, "nowhere"),
        MSB_LIBKRUNFW: join(root, "nowhere"),
        MSB_RELEASE_URL: "http://127.0.0.1:9",
      },
    });
    expect(run).toMatchObject({ exitCode: 0 });
    expect(run.output).toContain(`warning: ${join(root, "nowhere")} does not exist`);
    const systemHasLibkrun =
      Bun.spawnSync(["sh", "-c", "ldconfig -p 2>/dev/null | grep -q 'libkrun.so.1 '"]).exitCode === 0;
    if (!systemHasLibkrun) {
      expect(run.output).toContain(
        "libkrun not found: libkrun VMs need it; set MSB_LIBKRUN=/path/libkrun.so.1 or install it; " +
          "QEMU and the namespace backend work without it",
      );
      expect(run.output).toContain("libkrun options on this host:");
      expect(JSON.parse(readFileSync(join(msbHome, "lib/vmm-libraries.json"), "utf8"))).toMatchObject({
        libkrun: { path: null, source: "missing" },
      });
    }
  });

  test("downloads libkrunfw from the release URL when none is installed, and checks its sha256", async () => {
    const systemHas = Bun.spawnSync(["sh", "-c", "ldconfig -p 2>/dev/null | grep -q 'libkrunfw.so.5 '"]);
    if (systemHas.exitCode === 0) {
      console.warn("skip: setup download: this host has libkrunfw installed, so setup never downloads it");
      return;
    }
    const release = join(root, "release");
    const asset = `microsandbox-linux-${process.arch === "arm64" ? "aarch64" : "x86_64"}.tar.gz`;
    mkdirSync(join(release, "bundle/lib"), { recursive: true });
    writeFileSync(join(release, "bundle/lib/libkrunfw.so.5.2.0"), "not really a library\n");
    Bun.spawnSync(["tar", "-czf", join(release, asset), "-C", join(release, "bundle"), "lib"]);
    const digest = new Bun.CryptoHasher("sha256").update(readFileSync(join(release, asset))).digest("hex");
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (request) => new Response(Bun.file(join(release, new URL(request.url).pathname.slice(1)))),
    });
    const env = {
      MSB_LIBKRUN: join(root, "nowhere"),
      MSB_LIBKRUNFW: join(root, "nowhere"),
      MSB_RELEASE_URL: `http://127.0.0.1:${server.port}`,
    };
    try {
      writeFileSync(join(release, "checksums.sha256"), `${"0".repeat(64)}  ${asset}\n`);
      const tampered = freshHome("download-bad");
      const bad = await runSetupAsync(tampered.home, tampered.msbHome, { args: ["--no-modify-path"], env });
      expect(bad.output).toContain("does not match its published sha256");
      expect(existsSync(join(tampered.msbHome, "lib/libkrunfw.so.5"))).toBe(false);

      writeFileSync(join(release, "checksums.sha256"), `${digest}  ${asset}\n`);
      const good = freshHome("download-good");
      const run = await runSetupAsync(good.home, good.msbHome, { args: ["--no-modify-path"], env });
      expect(run).toMatchObject({ exitCode: 0 });
      expect(run.output).toContain(`libkrunfw: downloaded from http://127.0.0.1:${server.port}`);
      expect(readlinkSync(join(good.msbHome, "lib/libkrunfw.so.5"))).toBe("libkrunfw.so.5.2.0");
    } finally {
      server.stop(true);
    }
  });

  test("writes the PATH block into the shell's rc file exactly once", () => {
    const { home, msbHome } = freshHome("with-path");
    writeFileSync(join(home, ".bashrc"), "alias ll='ls -l'\n");
    expect(runSetup(home, msbHome)).toMatchObject({ exitCode: 0 });
    expect(runSetup(home, msbHome)).toMatchObject({ exitCode: 0 });
    const bashrc = readFileSync(join(home, ".bashrc"), "utf8");
    expect(bashrc.startsWith("alias ll='ls -l'\n")).toBe(true);
    expect(bashrc.split("# >>> msb").length - 1).toBe(1);
    expect(bashrc).toContain(`export PATH="${msbHome}/bin:$PATH"`);

    const movedHome = join(root, "with-path", "msb-moved");
    expect(runSetup(home, movedHome, { env: { SHELL: "/usr/bin/zsh" } })).toMatchObject({ exitCode: 0 });
    expect(readFileSync(join(home, ".zshrc"), "utf8")).toContain(`export PATH="${movedHome}/bin:$PATH"`);
    expect(runSetup(home, movedHome, { env: { SHELL: "/bin/bash" } })).toMatchObject({ exitCode: 0 });
    const updated = readFileSync(join(home, ".bashrc"), "utf8");
    expect(updated.split("# >>> msb").length - 1).toBe(1);
    expect(updated).toContain(`export PATH="${movedHome}/bin:$PATH"`);
    expect(updated).not.toContain(`export PATH="${msbHome}/bin:$PATH"`);
  });
});
