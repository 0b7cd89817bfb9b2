// The data `msb doctor` produces, and the probe interface its checks read the host through. The
// checks are pure functions of a DoctorProbe, so tests describe fake hosts as plain objects.
import type { VmmChoice } from "../vmm/select-vmm.ts";

/**
 * Which isolation backend needs a check to pass ("all": both). "info": a fact that decides which
 * VMM runs VMs (KVM, libkrun, QEMU) but blocks nothing by itself; the "vmm" check does.
 */
export type CheckScope = "vm" | "namespace" | "all" | "info";

export interface DoctorCheck {
  id: string;
  label: string;
  ok: boolean;
  /** Passing, but worth attention (e.g. low disk space). */
  warning?: boolean;
  detail: string;
  fix?: string;
  required: CheckScope;
}

export interface DoctorReport {
  home: string;
  checks: DoctorCheck[];
  /** The VMM `msb run --isolation vm` will use, or null when none can run. */
  vmm: VmmChoice | null;
  /** Every "vm" and "all" check passes: `msb run` can boot a microVM. */
  vmReady: boolean;
  /** Every "namespace" and "all" check passes: `--isolation namespace` can run. */
  namespaceReady: boolean;
}

export interface RejectedLibrary {
  path: string;
  reason: string;
}

export type LibkrunFacts =
  | {
      found: true;
      path: string;
      realPath: string;
      version: string | undefined;
      /** Optional symbol groups of ffi/libkrun.ts and whether the library exports them. */
      groups: Record<string, boolean>;
      /** First missing symbol of each missing group. */
      missing: Record<string, string>;
      /** From krun_has_feature (libkrun ≥1.17.3); undefined when the library lacks it. */
      features: { net: boolean; blk: boolean } | undefined;
    }
  | { found: false; rejected: RejectedLibrary[] };

export type LibkrunfwFacts =
  | { found: true; path: string; realPath: string; version: string | undefined; abi: number }
  | { found: false; rejected: RejectedLibrary[] };

export interface ExecutableLocation {
  path: string;
  /** False when found only in /usr/sbin or /sbin, which a non-root PATH often lacks. */
  onPath: boolean;
}

/** Everything the checks need to know about the host. */
export interface DoctorProbe {
  uid(): number;
  exists(path: string): boolean;
  /** undefined when open(path, O_RDWR) succeeds, else its errno code ("ENOENT", "EACCES", ...). */
  openReadWrite(path: string): string | undefined;
  readText(path: string): string | undefined;
  /** A kernel module of this name exists for the running kernel (so it can autoload). */
  kernelModuleAvailable(name: string): boolean;
  findExecutable(name: string): ExecutableLocation | undefined;
  /** Bytes available to this user on the filesystem holding `path` (statfs). */
  freeBytes(path: string): number | undefined;
  libkrun(libDir: string): LibkrunFacts;
  libkrunfw(libDir: string): LibkrunfwFacts;
}
