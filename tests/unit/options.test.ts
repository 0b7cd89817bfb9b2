// validateSandboxOptions (everything checked before the image is known) and buildSandboxSpec
// (defaults and the OCI rules for Env, WorkingDir, User, ENTRYPOINT and CMD).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageError } from "../../src/errors.ts";
import type { ImageRuntimeConfig } from "../../src/image/image-config.ts";
import {
  buildSandboxSpec,
  type SandboxOptionsContext,
  type SandboxOptionsInput,
  specFromOptions,
  validateSandboxOptions,
} from "../../src/sandbox/options.ts";
import { GIB, MIB } from "../../src/sandbox/parse-size.ts";

let root: string;
let context: SandboxOptionsContext;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "msb-spec-"));
  mkdirSync(join(root, "data"));
  writeFileSync(join(root, "setup.sh"), "echo setup\n");
  context = { cwd: root, home: root, env: { TOKEN: "t0k" }, hostCpus: 4 };
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function imageConfig(overrides: Partial<ImageRuntimeConfig> = {}): ImageRuntimeConfig {
  return {
    entrypoint: null,
    cmd: null,
    env: ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"],
    workingDir: null,
    user: null,
    exposedPorts: [],
    volumes: [],
    labels: {},
    ...overrides,
  };
}

function build(input: SandboxOptionsInput, config: Partial<ImageRuntimeConfig> = {}) {
  return buildSandboxSpec(
    input,
    { reference: "docker.io/library/python:3.12", manifestDigest: "sha256:abc", config: imageConfig(config) },
    context,
  );
}

describe("buildSandboxSpec", () => {
  test("defaults", () => {
    expect(build({ name: "dev" })).toEqual({
      name: "dev",
      image: "docker.io/library/python:3.12",
      manifestDigest: "sha256:abc",
      isolation: "vm",
      cpus: 1,
      memoryBytes: 512 * MIB,
      diskBytes: 4 * GIB,
      hostname: "dev",
      env: ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"],
      workdir: null,
      user: null,
      shell: "/bin/sh",
      command: [],
      mounts: [],
      scripts: [],
      maxDurationMs: null,
      idleTimeoutMs: null,
      ephemeral: false,
      network: {
        rules: [],
        blockedDomains: [],
        nameservers: [],
        rebindProtection: true,
        maxConnections: 256,
        ports: [],
      },
    });
  });

  test("every flag", () => {
    const spec = build({
      name: "box_1",
      cpus: "2",
      memory: "1G",
      volume: ["./data:/data:ro"],
      workdir: "/work",
      shell: "/bin/bash",
      env: ["LANG=en_US.UTF-8", "TOKEN", "EXTRA=a=b"],
      tmpfs: ["/scratch:64M"],
      script: ["setup:./setup.sh"],
      hostname: "web",
      user: "1000:1000",
      pull: "never",
      maxDuration: "1h",
      idleTimeout: "10m",
      isolation: "namespace",
      command: ["python", "-V"],
      ephemeral: true,
    });
    expect(spec).toMatchObject({
      name: "box_1",
      cpus: 2,
      memoryBytes: GIB,
      isolation: "namespace",
      hostname: "web",
      env: ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=en_US.UTF-8", "TOKEN=t0k", "EXTRA=a=b"],
      workdir: "/work",
      user: "1000:1000",
      shell: "/bin/bash",
      command: ["python", "-V"],
      mounts: [
        { kind: "bind", source: join(root, "data"), target: "/data", readonly: true },
        { kind: "tmpfs", target: "/scratch", sizeBytes: 64 * MIB },
      ],
      scripts: [{ name: "setup", content: "echo setup\n" }],
      maxDurationMs: 3_600_000,
      idleTimeoutMs: 600_000,
      ephemeral: true,
    });
  });

  test("an unnamed sandbox gets an auto name and that name as hostname", () => {
    const spec = build({});
    expect(spec.name).toMatch(/^msb-[0-9a-f]{8}$/);
    expect(spec.hostname).toBe(spec.name);
    expect(build({ name: "my_box" }).hostname).toBe("my-box");
  });

  test("WorkingDir and User come from the image unless -w / -u", () => {
    const config = { workingDir: "/srv", user: "app" };
    expect(build({}, config)).toMatchObject({ workdir: "/srv", user: "app" });
    expect(build({ workdir: "/x", user: "root" }, config)).toMatchObject({ workdir: "/x", user: "root" });
  });

  test.each([
    ["CMD only", {}, { cmd: ["python3"] }, ["python3"]],
    ["ENTRYPOINT + CMD", {}, { entrypoint: ["tini", "--"], cmd: ["python3"] }, ["tini", "--", "python3"]],
    ["command replaces CMD", { command: ["bash"] }, { cmd: ["python3"] }, ["bash"]],
    [
      "command keeps ENTRYPOINT",
      { command: ["-c", "print(1)"] },
      { entrypoint: ["python3"], cmd: ["-V"] },
      ["python3", "-c", "print(1)"],
    ],
    [
      "--entrypoint drops CMD",
      { entrypoint: "/bin/echo" },
      { entrypoint: ["python3"], cmd: ["-V"] },
      ["/bin/echo"],
    ],
    [
      "--entrypoint with a command",
      { entrypoint: "/bin/echo", command: ["hi"] },
      { entrypoint: ["python3"], cmd: ["-V"] },
      ["/bin/echo", "hi"],
    ],
    ["--entrypoint is one program", { entrypoint: "python -u" }, {}, ["python -u"]],
    ["--entrypoint '' clears both", { entrypoint: "" }, { entrypoint: ["python3"], cmd: ["-V"] }, []],
    ["--entrypoint '' with a command", { entrypoint: "", command: ["ls"] }, { entrypoint: ["x"] }, ["ls"]],
    ["nothing: the shell", {}, {}, []],
  ] as Array<[string, SandboxOptionsInput, Partial<ImageRuntimeConfig>, string[]]>)(
    "command: %s",
    (_, input, config, command) => {
      expect(build(input, config).command).toEqual(command);
    },
  );
});

test("a named volume stays a volume by name in the spec, resolved only at boot", () => {
  const spec = build({ volume: ["cache:/cache:ro", "./data:/data"] });
  expect(spec.mounts).toEqual([
    { kind: "volume", name: "cache", target: "/cache", readonly: true },
    expect.objectContaining({ kind: "bind", target: "/data" }),
  ]);
});

describe("validateSandboxOptions", () => {
  test("needs no image and reports the parsed options", () => {
    const options = validateSandboxOptions({ name: "dev", pull: "always", entrypoint: "sh" }, context);
    expect(options).toMatchObject({
      name: "dev",
      pull: "always",
      entrypoint: ["sh"],
      memoryBytes: 512 * MIB,
    });
    expect(validateSandboxOptions({}, context).pull).toBe("if-missing");
  });

  test("its auto name survives into the spec", () => {
    const options = validateSandboxOptions({}, context);
    const spec = specFromOptions(options, {
      reference: "alpine",
      manifestDigest: "sha256:1",
      config: imageConfig(),
    });
    expect(spec.name).toBe(options.name);
  });

  test.each([
    [{ name: "-bad" }, "invalid sandbox name '-bad'"],
    [{ cpus: "5" }, "invalid --cpus '5'"],
    [{ memory: "10M" }, "too small"],
    [{ volume: ["./missing:/x"] }, "does not exist"],
    [{ volume: ["cache:/x", "./data:/x"] }, "two mounts target /x"],
    [{ volume: ["./data:/x"], tmpfs: ["/x"] }, "two mounts target /x"],
    [{ tmpfs: ["/a", "/a/"] }, "two mounts target /a"],
    [{ script: ["a:./setup.sh", "a:./setup.sh"] }, "two --script options are named 'a'"],
    [{ env: ["UNSET_VAR"] }, "UNSET_VAR"],
    [{ workdir: "rel" }, "invalid --workdir 'rel'"],
    [{ shell: "" }, "invalid --shell ''"],
    [{ hostname: "a_b" }, "invalid --hostname 'a_b'"],
    [{ user: "a:b:c" }, "invalid --user 'a:b:c'"],
    [{ pull: "maybe" }, "invalid --pull 'maybe'"],
    [{ maxDuration: "forever" }, "invalid --max-duration duration 'forever'"],
    [{ idleTimeout: "0" }, "--idle-timeout duration '0' must be greater than zero"],
    [{ isolation: "gvisor" }, "invalid --isolation 'gvisor'"],
  ] as Array<[SandboxOptionsInput, string]>)("rejects %o", (input, fragment) => {
    expect(() => validateSandboxOptions(input, context)).toThrow(UsageError);
    expect(() => validateSandboxOptions(input, context)).toThrow(fragment);
  });

  test("MSB_ISOLATION is the default backend", () => {
    expect(validateSandboxOptions({}, { ...context, env: { MSB_ISOLATION: "namespace" } }).isolation).toBe(
      "namespace",
    );
  });
});
