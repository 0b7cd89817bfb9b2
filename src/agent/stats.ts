// The agent's stats service: answers `stats` frames with the sandbox's CPU, memory and disk
// figures (metrics/stats-source.ts says where they come from per backend). On the namespace
// backend the cgroup files are opened before the pivot, while the host's cgroup tree is still
// in view; the sandbox never sees that tree, and the descriptors are read-only.
import { existsSync, openSync, readdirSync, readFileSync, readSync } from "node:fs";
import { type GuestSample, GuestSampler } from "../metrics/guest-sampler.ts";
import {
  type GuestCounters,
  type GuestFiles,
  planStatsSource,
  readCounters,
  type StatsSource,
  sourceFiles,
} from "../metrics/stats-source.ts";
import type { FrameChannel } from "../protocol/channel.ts";
import { decodeJson } from "../protocol/frame.ts";
import { type Frame, FrameKind, type GuestStats, type StatsRequest } from "../protocol/messages.ts";
import type { AgentBootConfig } from "./boot-config.ts";

/** cgroup and /proc files are small; memory.stat, the largest, is a few KiB. */
const READ_BUFFER_BYTES = 64 * 1024;
const UNKNOWN_COUNTERS: GuestCounters = {
  cpuUsec: null,
  memoryBytes: null,
  memoryLimitBytes: null,
  diskReadBytes: null,
  diskWriteBytes: null,
};

export interface StatsService {
  /** Answers one `stats` frame on `channel`, after the sampling window. */
  answer(channel: FrameChannel, frame: Frame): void;
}

/** Call before the root is assembled: the namespace backend's cgroup files are reachable only then. */
export function openStatsService(config: AgentBootConfig): StatsService {
  const source = planStatsSource({
    backend: config.backend,
    procSelfCgroup: readOrEmpty("/proc/self/cgroup"),
    mountInfo: readOrEmpty("/proc/self/mountinfo"),
    exists: existsSync,
  });
  const files = guestFiles(source);
  const sampler = new GuestSampler(() => readCounters(source, files));
  return {
    answer(channel, frame) {
      const request = decodeJson<Partial<StatsRequest>>(frame);
      const id = typeof request.id === "number" && Number.isInteger(request.id) ? request.id : 0;
      const windowMs = typeof request.windowMs === "number" ? request.windowMs : undefined;
      // PID 1 must not die of a stats bug: a failed sample answers as all unknown.
      void sampler
        .sample(windowMs)
        .catch((): GuestSample => ({ ...UNKNOWN_COUNTERS, cpuPercent: null }))
        .then((sample) => {
          if (!channel.closed) channel.sendJson(FrameKind.statsResult, 0, guestStats(id, sample, source));
        });
    },
  };
}

function guestStats(id: number, sample: GuestSample, source: StatsSource): GuestStats {
  return {
    id,
    cpuPercent: sample.cpuPercent,
    memoryBytes: sample.memoryBytes,
    memoryLimitBytes: sample.memoryLimitBytes,
    diskReadBytes: sample.diskReadBytes,
    diskWriteBytes: sample.diskWriteBytes,
    source: source.label,
  };
}

/** The source's cgroup files through descriptors opened now; everything else by path, later. */
function guestFiles(source: StatsSource): GuestFiles {
  const cgroupFiles = new Set(sourceFiles(source));
  const descriptors = new Map<string, number>();
  for (const path of cgroupFiles) {
    try {
      descriptors.set(path, openSync(path, "r"));
    } catch {
      // A file this kernel lacks (e.g. memory.stat without memory accounting) reads as unknown.
    }
  }
  const buffer = Buffer.alloc(READ_BUFFER_BYTES);
  return {
    read(path) {
      const fd = descriptors.get(path);
      try {
        // A cgroup file that could not be opened is unknown: the same path inside the sandbox is not it.
        if (fd === undefined) return cgroupFiles.has(path) ? null : readFileSync(path, "utf8");
        // Reading from offset 0 makes the kernel produce the file afresh.
        const length = readSync(fd, buffer, 0, buffer.length, 0);
        return buffer.toString("utf8", 0, length);
      } catch {
        return null;
      }
    },
    pids() {
      try {
        return readdirSync("/proc")
          .filter((entry) => /^\d+$/.test(entry))
          .map(Number);
      } catch {
        return [];
      }
    },
  };
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}
