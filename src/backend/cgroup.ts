// Creates and removes a namespace sandbox's cgroup(s) following cgroup-plan.ts: directories,
// controller enables and limits in order; removal kills whatever is still inside (a sandbox
// that lost its supervisor) and waits for it to go before removing the directories. Removal
// works by name alone, so a later msb process can clean up after a crashed supervisor.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { MsbError } from "../errors.ts";
import {
  type CgroupHostView,
  type CgroupLayout,
  type CgroupLimits,
  cgroupDirs,
  detectCgroupLayout,
  planCgroup,
} from "./cgroup-plan.ts";

const POLL_MS = 20;
const EMPTY_TIMEOUT_MS = 3000;

export interface SandboxCgroup {
  version: 1 | 2;
  dirs: string[];
  /** Where the sandbox's first process writes its pid before it forks anything. */
  procsFiles: string[];
  remove(): Promise<void>;
}

export function hostCgroupView(): CgroupHostView {
  return {
    mountInfo: readFileSync("/proc/self/mountinfo", "utf8"),
    v2Controllers: (mountpoint) => {
      try {
        return readFileSync(`${mountpoint}/cgroup.controllers`, "utf8");
      } catch {
        return null;
      }
    },
  };
}

export function createSandboxCgroup(
  name: string,
  limits: CgroupLimits,
  view: CgroupHostView = hostCgroupView(),
): SandboxCgroup {
  const plan = planCgroup(detectCgroupLayout(view), name, limits);
  for (const dir of plan.dirs) mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const write of plan.writes) {
    if (write.optional && !existsSync(write.path)) continue;
    try {
      writeFileSync(write.path, write.value);
    } catch (error) {
      throw new MsbError(`cannot set ${write.path} to ${write.value}: ${(error as Error).message}`, {
        cause: error,
        hint: "check that this host lets root manage cgroups (a container may need --privileged or its own cgroup)",
      });
    }
  }
  return {
    version: plan.version,
    dirs: plan.dirs,
    procsFiles: plan.procsFiles,
    remove: () => removeCgroupDirs(plan.dirs),
  };
}

/** Removes a sandbox's cgroup(s) found by its name, e.g. after its supervisor died. */
export async function removeSandboxCgroup(
  name: string,
  view: CgroupHostView = hostCgroupView(),
): Promise<void> {
  let layout: CgroupLayout;
  try {
    layout = detectCgroupLayout(view);
  } catch {
    // No usable hierarchy on this host: no sandbox can have made a cgroup here.
    return;
  }
  await removeCgroupDirs(cgroupDirs(layout, name));
}

async function removeCgroupDirs(dirs: string[]): Promise<void> {
  for (const dir of dirs) {
    const deadline = Date.now() + EMPTY_TIMEOUT_MS;
    for (;;) {
      const pids = members(dir);
      for (const pid of pids) killQuietly(pid);
      if (pids.length === 0 && removedOrBusy(dir) === "removed") break;
      if (Date.now() >= deadline) {
        throw new MsbError(
          `cannot remove cgroup ${dir}: processes ${pids.join(", ") || "(exiting)"} remain`,
          {
            hint: "they did not exit after SIGKILL; retry when they are gone",
          },
        );
      }
      await Bun.sleep(POLL_MS);
    }
  }
}

/** rmdir, where a missing directory counts as removed and EBUSY (a member still leaving) as busy. */
function removedOrBusy(dir: string): "removed" | "busy" {
  try {
    rmdirSync(dir);
    return "removed";
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return "removed";
    if (code === "EBUSY") return "busy";
    throw error;
  }
}

function members(dir: string): number[] {
  try {
    return readFileSync(`${dir}/cgroup.procs`, "utf8").split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // Exited between the listing and the signal.
  }
}
