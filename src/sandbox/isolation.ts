// Checks, before anything is created, that the chosen isolation backend can run on this host.
// The namespace backend is never chosen silently: when the VM cannot run, the error says why and
// names the way to opt in.
import { blockers, runDoctor } from "../doctor/doctor.ts";
import { MsbError } from "../errors.ts";
import type { MsbPaths } from "../paths.ts";
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
  const missing = blockers((await runDoctor(paths)).checks, "vm");
  const why = missing.map((check) => `${check.label}: ${check.detail}`).join("; ");
  throw new MsbError(
    why ? `VM sandboxes cannot run here (${why})` : "the VM backend is not part of this build yet",
    { code: "unavailable", hint: `${OPT_IN}; 'msb doctor' shows what this host has` },
  );
}
