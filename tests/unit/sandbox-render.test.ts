// `ls`, `ps` and `inspect`: which rows they show, their JSON shapes and their text (colours
// stripped).
import { describe, expect, test } from "bun:test";
import { stripVTControlCharacters as plain } from "node:util";
import type { SandboxSpec } from "../../src/sandbox/spec.ts";
import type { SandboxState } from "../../src/sandbox/state.ts";
import {
  displayCommand,
  filterForList,
  inspectJson,
  lsJson,
  psEntries,
  shellQuote,
} from "../../src/sandbox/view.ts";
import type { SandboxRecord } from "../../src/store/sandbox-records.ts";
import {
  colorStatus,
  formatExactSize,
  renderInspect,
  renderLsTable,
  renderNames,
  renderPsTable,
} from "../../src/ui/sandbox-render.ts";

const MIB = 1024 * 1024;

function record(name: string, status: SandboxState, spec: Partial<SandboxSpec> = {}): SandboxRecord {
  return {
    id: "0123456789ab",
    name,
    image: spec.image ?? "docker.io/library/alpine:latest",
    manifestDigest: "sha256:aaa",
    status,
    spec: {
      name,
      image: "docker.io/library/alpine:latest",
      manifestDigest: "sha256:aaa",
      isolation: "vm",
      cpus: 1,
      memoryBytes: 512 * MIB,
      diskBytes: 4 * 1024 * MIB,
      hostname: name,
      env: [],
      workdir: null,
      user: null,
      shell: "/bin/sh",
      command: [],
      mounts: [],
      scripts: [],
      maxDurationMs: null,
      idleTimeoutMs: null,
      ephemeral: false,
      ...spec,
    },
    ephemeral: false,
    createdAt: "2026-03-04T05:06:07.000Z",
    updatedAt: "2026-03-04T06:00:00.000Z",
    supervisorPid: null,
    runtimeDir: null,
    startedAt: null,
    stoppedAt: null,
    exitCode: null,
    exitReason: null,
  };
}

const RECORDS = [
  record("api", "running", { command: ["python", "-m", "http.server"] }),
  record("build", "stopped"),
  record("boot", "starting"),
  record("broken", "crashed"),
  record("fresh", "created"),
];

describe("ls", () => {
  test("filters", () => {
    const names = (filter: Parameters<typeof filterForList>[1]) =>
      filterForList(RECORDS, filter).map((item) => item.name);
    expect(names({})).toEqual(["api", "build", "boot", "broken", "fresh"]);
    expect(names({ running: true })).toEqual(["api", "boot"]);
    expect(names({ stopped: true })).toEqual(["build", "broken", "fresh"]);
    expect(names({ running: true, stopped: true })).toHaveLength(5);
  });

  test("table", () => {
    expect(plain(renderLsTable(RECORDS.slice(0, 2)))).toBe(
      [
        "NAME     IMAGE                              STATUS     CREATED",
        "api      docker.io/library/alpine:latest    running    2026-03-04 05:06:07",
        "build    docker.io/library/alpine:latest    stopped    2026-03-04 05:06:07",
      ].join("\n"),
    );
  });

  test("json and names", () => {
    expect(lsJson(RECORDS.slice(0, 1))).toEqual([
      {
        name: "api",
        status: "running",
        image: "docker.io/library/alpine:latest",
        created_at: "2026-03-04T05:06:07.000Z",
      },
    ]);
    expect(renderNames(RECORDS.slice(0, 2))).toBe("api\nbuild");
  });
});

describe("ps", () => {
  test("running sandboxes only unless all", () => {
    expect(psEntries(RECORDS).map((entry) => entry.name)).toEqual(["api", "boot"]);
    expect(psEntries(RECORDS, { all: true })).toHaveLength(5);
    expect(psEntries(RECORDS)[0]).toEqual({
      name: "api",
      status: "running",
      image: "docker.io/library/alpine:latest",
      command: "python -m http.server",
      ports: [],
    });
  });

  test("table truncates the image to 36 and the quoted command to 40 columns", () => {
    const long = record("x", "running", {
      image: "registry.example.com/some/very/long/repository:tag",
      command: ["sh", "-c", "while true; do echo hello world; sleep 1; done"],
    });
    const lines = plain(renderPsTable(psEntries([long, RECORDS[0]!]))).split("\n");
    expect(lines[0]).toBe(`NAME    IMAGE${" ".repeat(35)}COMMAND${" ".repeat(37)}STATUS     PORTS`);
    expect(lines[1]).toBe(
      `x       registry.example.com/some/very/long…    "sh -c 'while true; do echo hello worl…"    running`,
    );
    expect(lines[2]).toContain(`"python -m http.server"`);
  });

  test("a sandbox without a command shows its shell", () => {
    expect(displayCommand(record("s", "running", { shell: "/bin/bash" }))).toBe("/bin/bash");
  });

  test.each([
    ["plain-word_1.2/x:y=z", "plain-word_1.2/x:y=z"],
    ["two words", "'two words'"],
    ["it's", `'it'\\''s'`],
    ["", "''"],
    ["$HOME", "'$HOME'"],
  ])("shellQuote(%j) = %s", (word, quoted) => expect(shellQuote(word)).toBe(quoted));
});

describe("inspect", () => {
  const detailed: SandboxRecord = {
    ...record("dev", "stopped", {
      cpus: 2,
      memoryBytes: 1024 * MIB,
      isolation: "namespace",
      workdir: "/app",
      user: "1000:1000",
      env: ["PATH=/usr/bin", "A=1"],
      command: ["python", "app.py"],
      mounts: [
        { kind: "bind", source: "/home/me/data", target: "/data", readonly: true },
        { kind: "bind", source: "/home/me/src", target: "/src", readonly: false },
        { kind: "tmpfs", target: "/scratch", sizeBytes: 64 * MIB },
        { kind: "tmpfs", target: "/tmp", sizeBytes: null },
        { kind: "volume", name: "cache", target: "/cache", readonly: false },
      ],
      scripts: [{ name: "setup", content: "echo hi\n" }],
      maxDurationMs: 5_400_000,
      idleTimeoutMs: 600_000,
    }),
    startedAt: "2026-03-04T07:00:00.000Z",
    stoppedAt: "2026-03-04T08:30:00.000Z",
    exitCode: 0,
    exitReason: "max-duration",
  };

  test("text", () => {
    expect(plain(renderInspect(detailed))).toBe(
      [
        "Name:           dev",
        "Status:         stopped",
        "Created:        2026-03-04 05:06:07",
        "Updated:        2026-03-04 06:00:00",
        "Image:          docker.io/library/alpine:latest",
        "Isolation:      namespace",
        "Hostname:       dev",
        "User:           1000:1000",
        "Workdir:        /app",
        "Shell:          /bin/sh",
        "Command:        python app.py",
        "",
        "Resources",
        "  CPUs:         2",
        "  Memory:       1024 MiB",
        "  Disk:         4 GiB",
        "",
        "Limits",
        "  Max duration: 1h30m",
        "  Idle timeout: 10m",
        "",
        "Network",
        "  Interfaces:   lo only",
        "",
        "Environment",
        "  PATH=/usr/bin",
        "  A=1",
        "",
        "Mounts",
        "  /data           → /home/me/data (ro)",
        "  /src            → /home/me/src (rw)",
        "  /scratch        → tmpfs (64 MiB)",
        "  /tmp            → tmpfs",
        "  /cache          → volume cache (rw)",
        "",
        "Scripts",
        "  setup           → /.msb/scripts/setup (8 B)",
        "",
        "Last run",
        "  Started:      2026-03-04 07:00:00",
        "  Stopped:      2026-03-04 08:30:00",
        "  Exit:         0 (max-duration)",
      ].join("\n"),
    );
  });

  test("a fresh sandbox leaves out empty sections", () => {
    const text = plain(renderInspect(record("fresh", "created")));
    expect(text).toContain("Command:        (shell)");
    expect(text).toContain("User:           (image default)");
    expect(text).toContain("  Max duration: none");
    for (const section of ["Environment", "Mounts", "Scripts", "Last run"])
      expect(text).not.toContain(section);
  });

  test("a running sandbox names its supervisor", () => {
    const running = { ...record("r", "running"), startedAt: "2026-03-04T07:00:00.000Z", supervisorPid: 77 };
    expect(plain(renderInspect(running))).toContain("  Supervisor:   pid 77");
  });

  test("json", () => {
    expect(inspectJson(detailed)).toEqual({
      id: "0123456789ab",
      name: "dev",
      status: "stopped",
      config: detailed.spec,
      ephemeral: false,
      created_at: "2026-03-04T05:06:07.000Z",
      updated_at: "2026-03-04T06:00:00.000Z",
      started_at: "2026-03-04T07:00:00.000Z",
      stopped_at: "2026-03-04T08:30:00.000Z",
      supervisor_pid: null,
      exit_code: 0,
      exit_reason: "max-duration",
    });
  });
});

describe("formats", () => {
  test.each(["created", "starting", "running", "stopping", "stopped", "crashed"] as const)(
    "status %s is its own word",
    (status) => expect(plain(colorStatus(status))).toBe(status),
  );
  test.each([
    [4 * 1024 * MIB, "4 GiB"],
    [64 * MIB, "64 MiB"],
    [1536 * MIB, "1536 MiB"],
    [1536 * MIB + 1, "1.5 GiB"],
    [1000, "1000 B"],
  ])("formatExactSize(%d) = %s", (bytes, text) => expect(formatExactSize(bytes)).toBe(text));
});
