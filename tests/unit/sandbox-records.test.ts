// Sandbox rows: migration 2 over an existing database, insert/find/list/update/delete, the
// name conflict (also between processes racing for one name) and guarded status changes.

import type { Database } from "bun:sqlite";
import { Database as SqliteDatabase } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ConflictError } from "../../src/errors.ts";
import type { SandboxSpec } from "../../src/sandbox/spec.ts";
import { openDatabase, schemaVersion } from "../../src/store/db.ts";
import { MIGRATIONS } from "../../src/store/migrations.ts";
import {
  deleteSandbox,
  findSandbox,
  insertSandbox,
  listSandboxes,
  updateStatus,
} from "../../src/store/sandbox-records.ts";

let home: string;
let db: Database;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), "msb-sandboxes-"));
  db = openDatabase(join(home, "msb.db"));
});
afterEach(() => {
  db.close();
  rmSync(home, { recursive: true, force: true });
});

function spec(name: string, overrides: Partial<SandboxSpec> = {}): SandboxSpec {
  return {
    name,
    image: "docker.io/library/alpine:latest",
    manifestDigest: "sha256:aaa",
    isolation: "vm",
    cpus: 1,
    memoryBytes: 512 * 1024 * 1024,
    diskBytes: 4 * 1024 ** 3,
    hostname: name,
    env: ["PATH=/bin"],
    workdir: null,
    user: null,
    shell: "/bin/sh",
    command: [],
    mounts: [{ kind: "tmpfs", target: "/tmp", sizeBytes: null }],
    scripts: [],
    maxDurationMs: null,
    idleTimeoutMs: null,
    ephemeral: false,
    ...overrides,
  };
}

describe("migration 2", () => {
  test("adds the runtime columns to a version 1 database and keeps its rows", () => {
    const path = join(home, "old.db");
    const old = new SqliteDatabase(path, { create: true });
    old.exec(MIGRATIONS[0]!.sql);
    old.exec("PRAGMA user_version = 1");
    old.exec(
      `INSERT INTO sandboxes VALUES ('id1', 'legacy', 'alpine', 'sha256:1', 'stopped', '${JSON.stringify(spec("legacy"))}', 't0', 't1')`,
    );
    old.close();
    const migrated = openDatabase(path);
    expect(schemaVersion(migrated)).toBe(MIGRATIONS.at(-1)!.version);
    expect(findSandbox(migrated, "legacy")).toMatchObject({
      id: "id1",
      status: "stopped",
      ephemeral: false,
      supervisorPid: null,
      exitReason: null,
    });
    migrated.close();
  });
});

describe("records", () => {
  test("insert then find, list and delete", () => {
    const created = insertSandbox(db, spec("dev", { ephemeral: true }));
    expect(created).toMatchObject({
      name: "dev",
      image: "docker.io/library/alpine:latest",
      manifestDigest: "sha256:aaa",
      status: "created",
      ephemeral: true,
      supervisorPid: null,
      runtimeDir: null,
      startedAt: null,
      stoppedAt: null,
      exitCode: null,
      exitReason: null,
    });
    expect(created.id).toMatch(/^[0-9a-f]{12}$/);
    expect(created.spec).toEqual(spec("dev", { ephemeral: true }));
    expect(created.createdAt).toBe(created.updatedAt);
    insertSandbox(db, spec("alpha"), "fixedid");
    expect(listSandboxes(db).map((record) => record.name)).toEqual(["alpha", "dev"]);
    expect(findSandbox(db, "alpha")?.id).toBe("fixedid");
    expect(deleteSandbox(db, "dev")).toBe(true);
    expect(deleteSandbox(db, "dev")).toBe(false);
    expect(findSandbox(db, "dev")).toBeUndefined();
  });

  test("a taken name is a ConflictError with the way out", () => {
    insertSandbox(db, spec("dev"));
    let thrown: unknown;
    try {
      insertSandbox(db, spec("dev"));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConflictError);
    expect((thrown as ConflictError).message).toBe("sandbox dev already exists");
    expect((thrown as ConflictError).hint).toBe(
      "use --replace to replace it, or remove it first with 'msb rm dev'",
    );
  });

  test("a duplicate id is not reported as a taken name", () => {
    insertSandbox(db, spec("a"), "same");
    expect(() => insertSandbox(db, spec("b"), "same")).toThrow("sandboxes.id");
  });

  test("updateStatus sets, keeps and clears runtime fields", () => {
    insertSandbox(db, spec("dev"));
    expect(
      updateStatus(db, "dev", "running", {
        supervisorPid: 4242,
        runtimeDir: "/run/x",
        startedAt: "2026-01-01T00:00:00.000Z",
      }),
    ).toBe(true);
    expect(findSandbox(db, "dev")).toMatchObject({
      status: "running",
      supervisorPid: 4242,
      runtimeDir: "/run/x",
    });
    updateStatus(db, "dev", "stopped", {
      supervisorPid: null,
      stoppedAt: "2026-01-01T00:01:00.000Z",
      exitCode: 137,
      exitReason: "max-duration",
    });
    expect(findSandbox(db, "dev")).toMatchObject({
      status: "stopped",
      supervisorPid: null,
      runtimeDir: "/run/x",
      startedAt: "2026-01-01T00:00:00.000Z",
      exitCode: 137,
      exitReason: "max-duration",
    });
    expect(updateStatus(db, "ghost", "running")).toBe(false);
  });

  test("updateStatus with `from` only changes a sandbox in one of those states", () => {
    insertSandbox(db, spec("dev"));
    expect(updateStatus(db, "dev", "starting", {}, { from: ["created", "stopped", "crashed"] })).toBe(true);
    expect(updateStatus(db, "dev", "starting", {}, { from: ["created", "stopped", "crashed"] })).toBe(false);
    expect(updateStatus(db, "dev", "running", {}, { from: [] })).toBe(false);
    expect(findSandbox(db, "dev")?.status).toBe("starting");
  });

  test("updated_at moves, created_at does not", async () => {
    const created = insertSandbox(db, spec("dev"));
    await Bun.sleep(5);
    updateStatus(db, "dev", "starting");
    const updated = findSandbox(db, "dev")!;
    expect(updated.createdAt).toBe(created.createdAt);
    expect(updated.updatedAt > created.updatedAt).toBe(true);
  });

  test("an unknown status reads as stopped", () => {
    insertSandbox(db, spec("dev"));
    db.exec("UPDATE sandboxes SET status = 'paused' WHERE name = 'dev'");
    expect(findSandbox(db, "dev")?.status).toBe("stopped");
  });
});

describe("concurrent creates", () => {
  test("of one name from several processes: exactly one wins", async () => {
    const path = join(home, "race.db");
    openDatabase(path).close();
    const script = join(home, "create.ts");
    const records = resolve(import.meta.dir, "../../src/store/sandbox-records.ts");
    const dbModule = resolve(import.meta.dir, "../../src/store/db.ts");
    writeFileSync(
      script,
      `import { openDatabase } from ${JSON.stringify(dbModule)};
       import { insertSandbox } from ${JSON.stringify(records)};
       const db = openDatabase(process.argv[2]);
       try { insertSandbox(db, JSON.parse(process.argv[3])); console.log("won"); }
       catch (error) { console.log(error.name + ": " + error.message); }`,
    );
    const runs = Array.from({ length: 6 }, () =>
      Bun.spawn([process.execPath, script, path, JSON.stringify(spec("dev"))], {
        stdout: "pipe",
        stderr: "pipe",
      }),
    );
    const outputs = await Promise.all(
      runs.map(async (run) => (await new Response(run.stdout).text()).trim()),
    );
    expect(outputs.filter((output) => output === "won")).toHaveLength(1);
    expect(outputs.filter((output) => output === "ConflictError: sandbox dev already exists")).toHaveLength(
      5,
    );
    const check = openDatabase(path);
    expect(listSandboxes(check)).toHaveLength(1);
    check.close();
  });
});
