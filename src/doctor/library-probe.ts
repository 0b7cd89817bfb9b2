// Opens libkrun and libkrunfw through ffi/ to learn what they offer, then closes them. Never
// creates a context or starts a VM: krun_has_feature and krunfw_get_version have no side effects.

import { KRUN_FEATURE, loadLibkrun } from "../../ffi/libkrun.ts";
import { loadLibkrunfw } from "../../ffi/libkrunfw.ts";
import { LibraryNotFoundError } from "../../ffi/loader.ts";
import type { LibkrunFacts, LibkrunfwFacts } from "./types.ts";

type Env = Record<string, string | undefined>;

export function probeLibkrun(libDir: string, env: Env): LibkrunFacts {
  let libkrun: ReturnType<typeof loadLibkrun>;
  try {
    libkrun = loadLibkrun({ libDir, env });
  } catch (error) {
    return { found: false, rejected: rejectedOf(error) };
  }
  try {
    const hasFeature = libkrun.optional.features?.krun_has_feature;
    return {
      found: true,
      path: libkrun.path,
      realPath: libkrun.realPath,
      version: libkrun.version,
      groups: { ...libkrun.groups },
      missing: Object.fromEntries(
        Object.entries(libkrun.missing).filter((entry): entry is [string, string] => entry[1] !== undefined),
      ),
      features: hasFeature && {
        net: hasFeature(KRUN_FEATURE.net) === 1,
        blk: hasFeature(KRUN_FEATURE.blk) === 1,
      },
    };
  } finally {
    libkrun.close();
  }
}

export function probeLibkrunfw(libDir: string, env: Env): LibkrunfwFacts {
  let libkrunfw: ReturnType<typeof loadLibkrunfw>;
  try {
    libkrunfw = loadLibkrunfw({ libDir, env });
  } catch (error) {
    return { found: false, rejected: rejectedOf(error) };
  }
  try {
    return {
      found: true,
      path: libkrunfw.path,
      realPath: libkrunfw.realPath,
      version: libkrunfw.version,
      abi: libkrunfw.symbols.krunfw_get_version(),
    };
  } finally {
    libkrunfw.close();
  }
}

function rejectedOf(error: unknown) {
  if (error instanceof LibraryNotFoundError) return error.rejected;
  return [{ path: "?", reason: error instanceof Error ? error.message : String(error) }];
}
