// How the agent ends a VM: PID 1 of a real kernel must never exit (the kernel panics), so after
// flushing the disks it resets the machine, which ends every VMM: QEMU runs with -no-reboot, and
// libkrun's x86 machine has no ACPI, so a power-off would only halt its vCPUs (vmm-exit.ts).
import { libcSymbols } from "../../ffi/libc.ts";

const RB_AUTOBOOT = 0x01234567;

export function endVm(): never {
  const libc = libcSymbols();
  libc.sync();
  libc.reboot(RB_AUTOBOOT);
  // reboot(2) returns only on failure (not PID 1 of the VM, or no CAP_SYS_BOOT): nothing is left to do.
  process.exit(1);
}
