// Checks, before anything is created, that the chosen isolation backend can run on this host.
// The namespace backend is never chosen silently: when the VM cannot run, the error says why and
// names the way to opt in.
import { MsbError } from "../errors.ts";
import type { MsbPaths } from "../paths.ts";
import { selectVmm } from "../vmm/select-vmm.ts";
import { gatherVmmFacts } from "../vmm/vmm-facts.ts";
import type { IsolationBackend } from "./spec.ts";

const OPT_IN = "use --isolation namespace (or MSB_ISOLATION=namespace) to run in Linux namespaces instead";

export async function ensureIsolationAvailable(paths: MsbPaths, isolation: IsolationBackend): Promise<void> {
  if (isolation === "namespace") {
    // The one requirement worth checking on every run; the others fail with their own errors.
    if (process.getuid?.() !== 0) {
      throw new MsbError("the namespace backend needs root", {
        code: "permission",
        hint: "run msb as root (sudo), or use the VM backend",
      });
    }
    return;
  }
  try {
    // libkrun with KVM, or QEMU (KVM or TCG): selectVmm throws with the fix when neither can run.
    selectVmm(gatherVmmFacts(paths));
  } catch (error) {
    if (!(error instanceof MsbError) || error.code !== "unavailable") throw error;
    throw new MsbError(`VM sandboxes cannot run here: ${error.message}`, {
      code: "unavailable",
      hint: `${error.hint ?? "install QEMU or libkrun"}; or ${OPT_IN}; 'msb doctor' shows what this host has`,
    });
  }
}
