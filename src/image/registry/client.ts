// The OCI distribution client msb pulls with: resolve a reference to one platform's manifest
// and config, download blobs with verification and resume, and check a login. It never prints;
// every failure is an MsbError the CLI renders.
import { MsbError } from "../../errors.ts";
import type { Platform } from "../platform.ts";
import { type ImageReference, normalizeRegistry } from "../reference.ts";
import { Authenticator } from "./auth.ts";
import { downloadBlob } from "./blob-download.ts";
import { resolveImage } from "./resolve.ts";
import { DEFAULT_RETRY, withRetry } from "./retry.ts";
import { discard, finalRegistryError, RegistryTransport } from "./transport.ts";
import type {
  ClientOptions,
  LayerDescriptor,
  RegistryCredentials,
  ResolvedImage,
  RetryPolicy,
} from "./types.ts";

export type {
  ClientOptions,
  ImageConfigFile,
  LayerDescriptor,
  RegistryCredentials,
  ResolvedImage,
  RetryPolicy,
} from "./types.ts";

export const DEFAULT_USER_AGENT = "msb/0.1";

export class RegistryClient {
  private readonly transport: RegistryTransport;
  private readonly retry: RetryPolicy;
  private readonly credentials: (registry: string) => RegistryCredentials | undefined;
  private readonly cachedBlob: (digest: string) => Uint8Array | undefined;

  constructor(options: ClientOptions = {}) {
    const fetchFn = options.fetch ?? fetch;
    const userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
    this.credentials = options.credentials ?? (() => undefined);
    const authenticator = new Authenticator({ fetch: fetchFn, userAgent, credentials: this.credentials });
    this.transport = new RegistryTransport({
      fetch: fetchFn,
      userAgent,
      insecure: options.insecure ?? false,
      authenticator,
    });
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.cachedBlob = options.cachedBlob ?? (() => undefined);
  }

  /** The manifest, config and layers of `ref` for `platform`, all digests verified. */
  resolve(ref: ImageReference, platform: Platform): Promise<ResolvedImage> {
    return resolveImage(
      { transport: this.transport, retry: this.retry, cachedBlob: this.cachedBlob },
      ref,
      platform,
    );
  }

  /** Downloads a blob of `ref`'s repository to `destPath`, resuming `destPath.partial` if present. */
  downloadBlob(
    ref: ImageReference,
    layer: LayerDescriptor,
    destPath: string,
    onProgress?: (bytesDone: number) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    return downloadBlob({
      transport: this.transport,
      retry: this.retry,
      ref,
      blob: layer,
      destPath,
      ...(onProgress ? { onProgress } : {}),
      ...(signal ? { signal } : {}),
    });
  }

  /** GET /v2/ with authentication: succeeds when the registry accepts msb's credentials. */
  async ping(registry: string): Promise<void> {
    const name = normalizeRegistry(registry);
    const username = this.credentials(name)?.username;
    const pingOnce = async () => {
      const response = await this.transport.send({
        registry: name,
        path: "",
        subject: `registry ${name}`,
        deniedMessage: username
          ? `registry ${name} rejected the credentials of ${username}`
          : `registry ${name} requires a login`,
      });
      await discard(response);
      if (!response.ok) {
        throw new MsbError(
          `registry ${name} answered ${response.status} at /v2/; is it a container registry?`,
          {
            code: "unavailable",
          },
        );
      }
    };
    try {
      await withRetry(pingOnce, this.retry);
    } catch (error) {
      throw finalRegistryError(error, this.retry.attempts);
    }
  }
}
