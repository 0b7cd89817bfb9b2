// The image configuration blob: parsing, the consistency check against its manifest, and the
// platform it declares.
import { MsbError } from "../../errors.ts";
import { normalizePlatform, type Platform } from "../platform.ts";
import type { ImageConfigFile } from "./types.ts";

/** Parses a config blob and checks it has one diff_id per layer of its manifest. */
export function parseImageConfig(bytes: Uint8Array, name: string, layerCount: number): ImageConfigFile {
  let config: ImageConfigFile;
  try {
    config = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new MsbError(`invalid image config for ${name}: not JSON`, { cause: error });
  }
  const diffIds = config?.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || diffIds.some((id) => typeof id !== "string")) {
    throw new MsbError(`invalid image config for ${name}: rootfs.diff_ids is missing`);
  }
  if (diffIds.length !== layerCount) {
    throw new MsbError(
      `invalid image config for ${name}: ${diffIds.length} diff_ids for ${layerCount} layers in the manifest`,
    );
  }
  return config;
}

/** The platform a config declares, if it names both os and architecture. */
export function platformOfConfig(config: ImageConfigFile): Platform | undefined {
  if (!config.os || !config.architecture) return undefined;
  const { os, architecture, variant } = config;
  return normalizePlatform({ os, architecture, ...(variant ? { variant } : {}) });
}
