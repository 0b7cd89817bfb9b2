// The shapes the registry client takes and returns; the pull pipeline codes against these.
import type { Platform } from "../platform.ts";
import type { ImageReference } from "../reference.ts";

export interface RegistryCredentials {
  username: string;
  password: string;
}

export interface RetryPolicy {
  /** Total tries of one request, the first included. */
  attempts: number;
  /** Delay before the first retry; doubles each time, with jitter. */
  baseDelayMs: number;
}

export interface ClientOptions {
  /** Allow plain HTTP to registries that are not on loopback. */
  insecure?: boolean;
  /** Credentials for a normalized registry name (`docker.io`, `ghcr.io`, `localhost:5000`). */
  credentials?: (registry: string) => RegistryCredentials | undefined;
  userAgent?: string;
  fetch?: typeof fetch;
  retry?: RetryPolicy;
  /** Small blobs (configs) already stored locally; still verified against their digest. */
  cachedBlob?: (digest: string) => Uint8Array | undefined;
}

export interface LayerDescriptor {
  digest: string;
  size: number;
  mediaType: string;
}

/** The image configuration JSON (OCI image-spec config.md); only the fields msb reads. */
export interface ImageConfigFile {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  config?: {
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    Env?: string[] | null;
    WorkingDir?: string;
    User?: string;
    ExposedPorts?: Record<string, object> | null;
    Volumes?: Record<string, object> | null;
    Labels?: Record<string, string> | null;
    StopSignal?: string;
  };
  rootfs: { type: string; diff_ids: string[] };
  history?: Array<{
    created?: string;
    created_by?: string;
    author?: string;
    comment?: string;
    empty_layer?: boolean;
  }>;
}

export interface ResolvedImage {
  reference: ImageReference;
  manifestDigest: string;
  manifestMediaType: string;
  manifestBytes: Uint8Array;
  /** Digest of the multi-platform index the manifest was chosen from, if there was one. */
  indexDigest?: string;
  platform: Platform;
  configDigest: string;
  configBytes: Uint8Array;
  config: ImageConfigFile;
  layers: LayerDescriptor[];
}
