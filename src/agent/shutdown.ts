// The agent's orderly end of a sandbox: stop the exec sessions (SIGTERM, SIGKILL after the
// grace), end every other process the same way, unmount the user's mounts, flush everything
// to the disks and make the root read-only, so nothing the sandbox wrote is lost when the
// namespace or the VM goes away.
import type { ExecServer } from "./exec-server.ts";
import { terminateRemainingProcesses } from "./process-sweep.ts";
import { MNT_DETACH, MS_RDONLY, MS_REMOUNT, mount, syncFilesystem, unmount } from "./syscalls.ts";

export interface SandboxParts {
  sessions: ExecServer | null;
  /** Guest paths of the user's mounts, in the order they were mounted. */
  userMountTargets: string[];
}

export async function shutDownSandbox(parts: SandboxParts, graceMs: number): Promise<void> {
  await parts.sessions?.shutdown(graceMs);
  await terminateRemainingProcesses(graceMs);
  for (const target of [...parts.userMountTargets].reverse()) unmountQuietly(target);
  syncFilesystem("/");
  try {
    mount(null, "/", null, MS_REMOUNT | MS_RDONLY, null);
  } catch {
    // Still busy (a process the kernel has not finished tearing down): the sync above is what
    // makes the writes durable; read-only only guards against late writers.
  }
}

/** At shutdown there is no one to report to: a mount that will not go is detached lazily. */
function unmountQuietly(target: string): void {
  try {
    unmount(target);
  } catch {
    try {
      unmount(target, MNT_DETACH);
    } catch {
      // Not mounted any more (the sandbox unmounted it itself).
    }
  }
}
