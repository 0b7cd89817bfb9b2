// Sandbox rows in msb.db: the spec fixed at create time plus what the runtime records (status,
// supervisor, run times, last exit). Name uniqueness is the table's UNIQUE constraint, so two
// processes creating one name at once cannot both succeed. Write transactions are
// `.immediate()`: they take the write lock up front, where busy_timeout waits for it.
import type { Database } from "bun:sqlite";
import { randomBytes } from "node:crypto";
import { ConflictError, MsbError } from "../errors.ts";
import type { SandboxSpec } from "../sandbox/spec.ts";
import { type ExitReason, isSandboxState, type SandboxState } from "../sandbox/state.ts";

export type { ExitReason };

/** What the runtime records about the current or last run. */
export interface SandboxRuntimeFields {
  supervisorPid: number | null;
  runtimeDir: string | null;
  startedAt: string | null;
  stoppedAt: string | null;
  exitCode: number | null;
  exitReason: ExitReason | null;
}

export interface SandboxRecord extends SandboxRuntimeFields {
  /** Short random id: keeps runtime paths (unix sockets: 108 bytes) independent of the name. */
  id: string;
  name: string;
  image: string;
  manifestDigest: string;
  status: SandboxState;
  spec: SandboxSpec;
  ephemeral: boolean;
  createdAt: string;
  updatedAt: string;
}

interface SandboxRow {
  id: string;
  name: string;
  image_reference: string;
  manifest_digest: string;
  status: string;
  config_json: string;
  created_at: string;
  updated_at: string;
  supervisor_pid: number | null;
  runtime_dir: string | null;
  started_at: string | null;
  stopped_at: string | null;
  exit_code: number | null;
  exit_reason: string | null;
  ephemeral: number;
}

const RUNTIME_COLUMNS: Record<keyof SandboxRuntimeFields, string> = {
  supervisorPid: "supervisor_pid",
  runtimeDir: "runtime_dir",
  startedAt: "started_at",
  stoppedAt: "stopped_at",
  exitCode: "exit_code",
  exitReason: "exit_reason",
};

export function newSandboxId(): string {
  return randomBytes(6).toString("hex");
}

/** Records a new sandbox in state `created`; a taken name is a ConflictError. */
export function insertSandbox(db: Database, spec: SandboxSpec, id: string = newSandboxId()): SandboxRecord {
  const now = new Date().toISOString();
  try {
    db.transaction(() => {
      db.query(
        `INSERT INTO sandboxes (id, name, image_reference, manifest_digest, status, config_json, created_at,
           updated_at, ephemeral)
         VALUES ($id, $name, $image, $manifestDigest, 'created', $configJson, $now, $now, $ephemeral)`,
      ).run({
        id,
        name: spec.name,
        image: spec.image,
        manifestDigest: spec.manifestDigest,
        configJson: JSON.stringify(spec),
        now,
        ephemeral: spec.ephemeral ? 1 : 0,
      });
    }).immediate();
  } catch (error) {
    if (isUniqueViolation(error, "sandboxes.name")) {
      throw new ConflictError(
        `sandbox ${spec.name} already exists`,
        `use --replace to replace it, or remove it first with 'msb rm ${spec.name}'`,
      );
    }
    throw error;
  }
  const record = findSandbox(db, spec.name);
  if (!record) throw new MsbError(`sandbox ${spec.name} vanished right after it was created`);
  return record;
}

export function findSandbox(db: Database, name: string): SandboxRecord | undefined {
  const row = db.query<SandboxRow, [string]>("SELECT * FROM sandboxes WHERE name = ?").get(name);
  return row ? toRecord(row) : undefined;
}

export function listSandboxes(db: Database): SandboxRecord[] {
  return db.query<SandboxRow, []>("SELECT * FROM sandboxes ORDER BY name").all().map(toRecord);
}

/**
 * Sets the status and the given runtime fields (undefined leaves a field, null clears it).
 * With `from`, only a sandbox currently in one of those states changes, so two processes racing
 * for one transition cannot both win. Returns whether a row changed.
 */
export function updateStatus(
  db: Database,
  name: string,
  status: SandboxState,
  fields: Partial<SandboxRuntimeFields> = {},
  options: { from?: readonly SandboxState[] } = {},
): boolean {
  const assignments = ["status = $status", "updated_at = $now"];
  const values: Record<string, string | number | null> = { name, status, now: new Date().toISOString() };
  for (const [field, column] of Object.entries(RUNTIME_COLUMNS)) {
    const value = fields[field as keyof SandboxRuntimeFields];
    if (value === undefined) continue;
    assignments.push(`${column} = $${field}`);
    values[field] = value;
  }
  let guard = "";
  if (options.from) {
    const placeholders = options.from.map((state, index) => {
      values[`from${index}`] = state;
      return `$from${index}`;
    });
    guard = ` AND status IN (${placeholders.join(", ") || "NULL"})`;
  }
  let changes = 0;
  db.transaction(() => {
    changes = db
      .query(`UPDATE sandboxes SET ${assignments.join(", ")} WHERE name = $name${guard}`)
      .run(values).changes;
  }).immediate();
  return changes > 0;
}

export function deleteSandbox(db: Database, name: string): boolean {
  let changes = 0;
  db.transaction(() => {
    changes = db.query("DELETE FROM sandboxes WHERE name = ?").run(name).changes;
  }).immediate();
  return changes > 0;
}

function toRecord(row: SandboxRow): SandboxRecord {
  let spec: SandboxSpec;
  try {
    spec = JSON.parse(row.config_json) as SandboxSpec;
  } catch (error) {
    throw new MsbError(`the stored config of sandbox ${row.name} is not valid JSON`, {
      cause: error,
      hint: `remove the sandbox with 'msb rm -f ${row.name}'`,
    });
  }
  return {
    id: row.id,
    name: row.name,
    image: row.image_reference,
    manifestDigest: row.manifest_digest,
    // A status this msb does not know (hand edits, a newer msb): treat it as not running.
    status: isSandboxState(row.status) ? row.status : "stopped",
    spec,
    ephemeral: row.ephemeral !== 0,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    supervisorPid: row.supervisor_pid,
    runtimeDir: row.runtime_dir,
    startedAt: row.started_at,
    stoppedAt: row.stopped_at,
    exitCode: row.exit_code,
    exitReason: row.exit_reason as ExitReason | null,
  };
}

function isUniqueViolation(error: unknown, column: string): boolean {
  return (
    error instanceof Error &&
    (error as { code?: string }).code === "SQLITE_CONSTRAINT_UNIQUE" &&
    error.message.includes(column)
  );
}
