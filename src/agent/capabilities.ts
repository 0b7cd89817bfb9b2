// Narrows what programs in a namespace sandbox can do as root. The agent keeps its own
// capabilities (it mounts, unmounts and signals at shutdown), but removes from its bounding set
// everything outside the usual container set, so nothing it executes can gain them: no
// mounting, module loading, raw I/O, device nodes (there is no device cgroup to stop opening
// them) or clock changes on the shared host kernel. A VM guest has its own kernel and keeps all.
import { readFileSync } from "node:fs";
import { dropBoundingCapability } from "./syscalls.ts";

/** Capability numbers kept in the bounding set (Docker's default set minus CAP_MKNOD). */
export const KEPT_CAPABILITIES = new Map<number, string>([
  [0, "CAP_CHOWN"],
  [1, "CAP_DAC_OVERRIDE"],
  [3, "CAP_FOWNER"],
  [4, "CAP_FSETID"],
  [5, "CAP_KILL"],
  [6, "CAP_SETGID"],
  [7, "CAP_SETUID"],
  [8, "CAP_SETPCAP"],
  [10, "CAP_NET_BIND_SERVICE"],
  [13, "CAP_NET_RAW"],
  [18, "CAP_SYS_CHROOT"],
  [29, "CAP_AUDIT_WRITE"],
  [31, "CAP_SETFCAP"],
]);

export function restrictBoundingCapabilities(): void {
  const lastCapability = Number(readFileSync("/proc/sys/kernel/cap_last_cap", "utf8").trim());
  for (let capability = 0; capability <= lastCapability; capability++) {
    if (!KEPT_CAPABILITIES.has(capability)) dropBoundingCapability(capability);
  }
}
