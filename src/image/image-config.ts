// The parts of an OCI image config msb reads, and a tolerant parser for them.
import { MsbError } from "../errors.ts";

export interface ImageRuntimeConfig {
  entrypoint: string[] | null;
  cmd: string[] | null;
  env: string[];
  workingDir: string | null;
  user: string | null;
  exposedPorts: string[];
  volumes: string[];
  labels: Record<string, string>;
}

export interface ParsedImageConfig {
  os: string;
  architecture: string;
  variant: string | null;
  created: string | null;
  diffIds: string[];
  runtime: ImageRuntimeConfig;
}

export function parseImageConfig(bytes: Uint8Array, digest: string): ParsedImageConfig {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  } catch (error) {
    throw new MsbError(`image config ${digest} is not valid JSON`, { cause: error });
  }
  const config = (json.config ?? {}) as Record<string, unknown>;
  const rootfs = (json.rootfs ?? {}) as Record<string, unknown>;
  return {
    os: stringOr(json.os, "linux"),
    architecture: stringOr(json.architecture, "unknown"),
    variant: typeof json.variant === "string" ? json.variant : null,
    created: typeof json.created === "string" ? json.created : null,
    diffIds: stringArray(rootfs.diff_ids) ?? [],
    runtime: {
      entrypoint: stringArray(config.Entrypoint),
      cmd: stringArray(config.Cmd),
      env: stringArray(config.Env) ?? [],
      workingDir: nonEmpty(config.WorkingDir),
      user: nonEmpty(config.User),
      exposedPorts: Object.keys((config.ExposedPorts ?? {}) as object),
      volumes: Object.keys((config.Volumes ?? {}) as object),
      labels: (config.Labels ?? {}) as Record<string, string>,
    },
  };
}

function stringOr(value: unknown, fallback: string): string {
  return typeof value === "string" && value !== "" ? value : fallback;
}

function nonEmpty(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

function stringArray(value: unknown): string[] | null {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : null;
}
