// Platforms (os/arch/variant): the host's, parsing `--platform`, and picking the manifest of a
// multi-platform index the way containerd does (exact variant first, then compatible older ones).
import { UsageError } from "../errors.ts";

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** Node's `process.arch` names → OCI architecture names. */
const NODE_ARCHITECTURES: Record<string, string> = {
  x64: "amd64",
  arm64: "arm64",
  arm: "arm",
  ia32: "386",
  ppc64: "ppc64le",
  s390x: "s390x",
  riscv64: "riscv64",
  loong64: "loong64",
};

/** Other spellings of architectures (uname, Debian) → OCI name and implied variant. */
const ARCHITECTURE_ALIASES: Record<string, { architecture: string; variant?: string }> = {
  x86_64: { architecture: "amd64" },
  "x86-64": { architecture: "amd64" },
  aarch64: { architecture: "arm64" },
  armhf: { architecture: "arm", variant: "v7" },
  armel: { architecture: "arm", variant: "v6" },
  i386: { architecture: "386" },
  i686: { architecture: "386" },
};

/** Architectures whose variants are ordered levels; a host of level N also runs levels below N. */
const DEFAULT_VARIANT: Record<string, number> = { amd64: 1, arm64: 8, arm: 7 };

export function hostPlatform(arch: string = process.arch, os: string = process.platform): Platform {
  return normalizePlatform({ os, architecture: NODE_ARCHITECTURES[arch] ?? arch });
}

/** Parses `os/arch[/variant]`, e.g. `linux/amd64` or `linux/arm64/v8`. */
export function parsePlatform(text: string): Platform {
  const parts = text.split("/");
  const valid =
    parts.length >= 2 && parts.length <= 3 && parts.every((part) => /^[A-Za-z0-9._-]+$/.test(part));
  if (!valid) {
    throw new UsageError(
      `invalid platform "${text}": expected os/arch or os/arch/variant, like linux/amd64 or linux/arm64/v8`,
    );
  }
  const [os = "", architecture = "", variant] = parts;
  return normalizePlatform({ os, architecture, ...(variant === undefined ? {} : { variant }) });
}

/**
 * Lowercases and folds aliases: `aarch64` → `arm64/v8`, `x86_64/v1` → `amd64`, `arm` → `arm/v7`.
 * The default level of amd64 is dropped and those of arm64/arm are spelled out, matching how
 * images label themselves.
 */
export function normalizePlatform(platform: Platform): Platform {
  const rawArchitecture = platform.architecture.toLowerCase();
  const alias = ARCHITECTURE_ALIASES[rawArchitecture];
  const architecture = alias?.architecture ?? rawArchitecture;
  const rawVariant = platform.variant?.toLowerCase() || alias?.variant;
  const level = variantLevel(architecture, rawVariant);
  let variant = rawVariant;
  if (level !== undefined) variant = architecture === "amd64" && level === 1 ? undefined : `v${level}`;
  return { os: platform.os.toLowerCase(), architecture, ...(variant ? { variant } : {}) };
}

export function formatPlatform(platform: Platform): string {
  const { os, architecture, variant } = platform;
  return variant ? `${os}/${architecture}/${variant}` : `${os}/${architecture}`;
}

/**
 * How well an image for `candidate` runs on `wanted`: 0 is an exact match, higher numbers are
 * older compatible variants (arm/v7 host running arm/v6), undefined means it does not run.
 */
export function platformMatchRank(wanted: Platform, candidate: Platform): number | undefined {
  const want = normalizePlatform(wanted);
  const have = normalizePlatform(candidate);
  if (want.os !== have.os || want.architecture !== have.architecture) return undefined;
  if (want.variant === have.variant) return 0;
  const wantLevel = variantLevel(want.architecture, want.variant);
  const haveLevel = variantLevel(have.architecture, have.variant);
  if (wantLevel === undefined || haveLevel === undefined || haveLevel > wantLevel) return undefined;
  return wantLevel - haveLevel;
}

/** Picks the entry that runs best on `wanted`; ties go to the first in index order. */
export function selectPlatform<T extends { platform?: Platform }>(
  entries: T[],
  wanted: Platform,
): T | undefined {
  let best: T | undefined;
  let bestRank = Number.POSITIVE_INFINITY;
  for (const entry of entries) {
    if (!entry.platform) continue;
    const rank = platformMatchRank(wanted, entry.platform);
    if (rank !== undefined && rank < bestRank) {
      best = entry;
      bestRank = rank;
    }
  }
  return best;
}

/** The numeric level of an ordered variant (`v7` → 7; none → the architecture's default). */
function variantLevel(architecture: string, variant: string | undefined): number | undefined {
  const fallback = DEFAULT_VARIANT[architecture];
  if (fallback === undefined) return undefined;
  if (!variant) return fallback;
  const match = /^v?([0-9]+)$/.exec(variant);
  return match ? Number(match[1]) : undefined;
}
