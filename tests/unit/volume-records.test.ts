// Volume rows: migration 3 over a version 2 database, insert/find/list/delete, the name
// conflict, and which sandboxes use a volume (read from their specs, any state).
import type { Database } from "bun:sqlite";
import { Database as SqliteDatabase } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConflictError } from "../../src/errors.ts";
import type { MountSpec, SandboxSpec } from "../../src/sandbox/spec.ts";
import { openDatabase, schemaVersion } from "../../src/store/db.ts";
import { MIGRATIONS } from "../../src/store/migrations.ts";
import { insertSandbox, updateStatus } from "../../src/store/sandbox-records.ts";
import {
  deleteVolume,
  findVolume,
  insertVolume,
  listVolumes,
  sandboxesUsingVolume,
} from "../../src/store/volume-records.ts";

let home: string;
let db: Database;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), "msb-volumes-"));
  db = openDatabase(join(home, "msb.db"));
});
afterEach(() => {
  db.close();
  rmSync(home, { recursive: true, force: true });
});

function spec(name: string, mounts: MountSpec[]): SandboxSpec {
  return {
    name,
    image: "docker.io/library/alpine:latest",
    manifestDigest: "sha256:aaa",
    isolation: "namespace",
    cpus: 1,
    memoryBytes: 512 * 1024 * 1024,
    diskBytes: 4 * 1024 ** 3,
    hostname: name,
    env: [],
    workdir: null,
    user: null,
    shell: "/bin/sh",
    command: [],
    mounts,
    scripts: [],
    maxDurationMs: null,
    idleTimeoutMs: null,
    ephemeral: false,
  };
}

const volume = (name: string, target = "/data") => ({
  kind: "volume" as const,
  name,
  target,
  readonly: false,
});

describe("migration 3", () => {
  test("adds the volumes table to a version 2 database", () => {
    const path = join(home, "v2.db");
    const old = new SqliteDatabase(path, { create: true });
    for (const migration of MIGRATIONS.filter((item) => item.version <= 2)) old.exec(migration.sql);
    old.exec("PRAGMA user_version = 2");
    old.close();
    const migrated = openDatabase(path);
    expect(schemaVersion(migrated)).toBe(MIGRATIONS.at(-1)!.version);
    expect(listVolumes(migrated)).toEqual([]);
    migrated.close();
  });

  test("only knows the dir and disk kinds", () => {
    expect(() =>
      db.exec("INSERT INTO volumes (name, kind, created_at) VALUES ('x', 'nfs', '2026-01-01T00:00:00Z')"),
    ).toThrow("CHECK constraint failed");
  });
});

describe("volume records", () => {
  test("insert, find, list in name order, delete", () => {
    const disk = insertVolume(db, {
      name: "db",
      kind: "disk",
      sizeBytes: 1 << 30,
      owner: { uid: 1000, gid: 100 },
    });
    insertVolume(db, { name: "cache", kind: "dir", sizeBytes: null, owner: null });
    expect(findVolume(db, "db")).toEqual(disk);
    expect(disk.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(
      listVolumes(db).map((record) => [record.name, record.kind, record.sizeBytes, record.owner]),
    ).toEqual([
      ["cache", "dir", null, null],
      ["db", "disk", 1 << 30, { uid: 1000, gid: 100 }],
    ]);
    expect(deleteVolume(db, "db")).toBe(true);
    expect(deleteVolume(db, "db")).toBe(false);
    expect(findVolume(db, "db")).toBeUndefined();
  });

  test("a taken name is a conflict that says how to use or remove it", () => {
    insertVolume(db, { name: "cache", kind: "dir", sizeBytes: null, owner: null });
    const again = () => insertVolume(db, { name: "cache", kind: "disk", sizeBytes: 1 << 24, owner: null });
    expect(again).toThrow(ConflictError);
    expect(again).toThrow("volume cache already exists");
    expect(findVolume(db, "cache")?.kind).toBe("dir");
  });

  test("the users of a volume are the sandboxes whose spec mounts it, running or not", () => {
    insertSandbox(db, spec("web", [volume("cache"), { kind: "tmpfs", target: "/tmp", sizeBytes: null }]));
    insertSandbox(db, spec("job", [volume("db", "/db"), volume("cache", "/c")]));
    insertSandbox(db, spec("other", [{ kind: "bind", source: "/cache", target: "/cache", readonly: true }]));
    updateStatus(db, "job", "running");
    expect(sandboxesUsingVolume(db, "cache").map((sandbox) => sandbox.name)).toEqual(["job", "web"]);
    expect(sandboxesUsingVolume(db, "db").map((sandbox) => sandbox.name)).toEqual(["job"]);
    expect(sandboxesUsingVolume(db, "other")).toEqual([]);
  });
});
