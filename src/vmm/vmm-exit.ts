// What the exit of a VMM process means. libkrun's krun_start_enter ends the process with the
// guest's status: a code stored by its init (125 setup failed, 126 exec failed, 127 agent not
// found), else 0 when the guest resets. The agent runs as PID 1 (KRUN_INIT_PID1, libkrun-boot.ts)
// and reports its outcome over the agent channel, so a guest that ends normally gives 0. `msb vmm`
// exits 125 itself when it could not configure or start the VM; libkrun panics abort (SIGABRT).
// QEMU exits 0 when the guest powers off or resets (-no-reboot) and 1 on its own errors.
//
// Guests must end with reboot(2) RB_AUTOBOOT, not RB_POWER_OFF: libkrun's x86 machine has no ACPI,
// so a power-off halts the vCPUs and the VMM never exits, while a reset (`reboot=k` in libkrun's
// command line, -no-reboot for QEMU) ends either VMM.
import type { VmmName } from "./select-vmm.ts";

/** `msb vmm` could not configure or start the VM (the reason is on its stderr, the sandbox log). */
export const VMM_START_FAILED = 125;

export interface VmmExit {
  /** The VMM or the guest's init failed, as opposed to the guest ending. */
  failure: boolean;
  /** One line for the supervisor's log and the user. */
  description: string;
}

const SIGABRT_STATUS = 128 + 6;

export function describeVmmExit(
  code: number | null,
  signal: string | null,
  vmm: VmmName = "libkrun",
): VmmExit {
  if (vmm === "qemu") return describeQemuExit(code, signal);
  if (signal === "SIGABRT" || code === SIGABRT_STATUS) {
    return {
      failure: true,
      description:
        "the VMM aborted (libkrun panics this way when it cannot create the VM, e.g. no access to /dev/kvm); see the sandbox log",
    };
  }
  if (signal !== null) return { failure: true, description: `the VMM was killed by ${signal}` };
  if (code === null) return { failure: true, description: "the VMM ended without an exit status" };
  if (code === VMM_START_FAILED) {
    return {
      failure: true,
      description:
        "the VMM could not start the VM, or the guest's init failed to set up (status 125); see the sandbox log",
    };
  }
  if (code === 126)
    return { failure: true, description: "the guest's init could not execute the agent (status 126)" };
  if (code === 127)
    return { failure: true, description: "the guest's init did not find the agent /msb (status 127)" };
  return { failure: false, description: `the guest ended with status ${code}` };
}

function describeQemuExit(code: number | null, signal: string | null): VmmExit {
  if (signal !== null) return { failure: true, description: `qemu-system was killed by ${signal}` };
  if (code === 0) return { failure: false, description: "the guest powered off" };
  return { failure: true, description: `qemu-system failed (status ${code}); see the sandbox log` };
}
