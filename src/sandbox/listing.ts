// Sandbox records as they really are, for `ls`, `ps` and `inspect`: every row reconciled with
// its supervisor first, so a crashed sandbox never shows as running.
import { listSandboxes, type SandboxRecord } from "../store/sandbox-records.ts";
import type { Store } from "../store/store.ts";
import { requireSandbox } from "./lifecycle.ts";
import { reconcileSandbox } from "./reconcile.ts";

export async function currentSandboxes(store: Store): Promise<SandboxRecord[]> {
  for (const record of listSandboxes(store.db)) await reconcileSandbox(store, record);
  // Reconciling may have removed ephemeral sandboxes whose supervisor died.
  return listSandboxes(store.db);
}

export function currentSandbox(store: Store, name: string): Promise<SandboxRecord> {
  return requireSandbox(store, name);
}
