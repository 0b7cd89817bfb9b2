// Turns the agent's view of the host into the sandbox: runs the mount plan, pivots into the
// overlay root and lets go of the old root, then sets the hostname and raises `lo`. With a
// network in the boot config it sets up eth0 just before the pivot (guest-network.ts). On the
// namespace backend it also narrows the capabilities of everything the agent will execute.
import { SyscallError } from "../errors.ts";
import type { TapDevice } from "../network/tap.ts";
import type { AgentBootConfig } from "./boot-config.ts";
import { restrictBoundingCapabilities } from "./capabilities.ts";
import {
  configureGuestInterface,
  createGuestInterface,
  writeResolvConfUnlessReadOnly,
} from "./guest-network.ts";
import { writeHostnameFiles } from "./hostname-files.ts";
import { bringLoopbackUp } from "./loopback.ts";
import { planRootAssembly, stageLayout } from "./mount-plan.ts";
import { runMountStep } from "./mount-steps.ts";
import { chroot, MNT_DETACH, MS_MOVE, mount, pivotRoot, setHostname, unmount } from "./syscalls.ts";

const EINVAL = 22;

/** Returns eth0's TAP device when the boot config has a network, for the relay to net.sock. */
export function assembleRoot(config: AgentBootConfig): TapDevice | null {
  const root = stageLayout(config.runtimeDir).root;
  let eth0: TapDevice | null = null;
  for (const step of planRootAssembly(config)) {
    if (step.kind === "pivot") {
      // The host's /dev/net/tun is out of reach after the pivot. A VM's eth0 is its virtio-net
      // NIC, already joined to the engine by the VMM: it only needs its address.
      if (config.network && config.backend === "vm") configureGuestInterface(config.network);
      else if (config.network) eth0 = createGuestInterface(config.network);
      switchRoot(step.newRoot);
    } else runMountStep(step, root);
  }
  setHostname(config.hostname);
  writeHostnameFilesUnlessReadOnly(config.hostname);
  if (config.network) writeResolvConfUnlessReadOnly(config.network);
  bringLoopbackUp();
  if (config.backend === "namespace") restrictBoundingCapabilities();
  return eth0;
}

/**
 * pivot_root(".", ".") stacks the old root on the new one; detaching it leaves the new root
 * alone (pivot_root(2)). An initramfs root cannot be pivoted away from: move the new root over
 * it and chroot instead, as switch_root does.
 */
function switchRoot(newRoot: string): void {
  process.chdir(newRoot);
  try {
    pivotRoot(".", ".");
    unmount(".", MNT_DETACH);
  } catch (error) {
    if (!(error instanceof SyscallError && error.errno === EINVAL)) throw error;
    mount(".", "/", null, MS_MOVE, null);
    chroot(".");
  }
  process.chdir("/");
}

function writeHostnameFilesUnlessReadOnly(hostname: string): void {
  try {
    writeHostnameFiles(hostname);
  } catch (error) {
    // A read-only volume the user mounted over /etc wins over the hostname files.
    if ((error as NodeJS.ErrnoException).code !== "EROFS") throw error;
  }
}
