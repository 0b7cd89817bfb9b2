// A fake OCI distribution registry on 127.0.0.1 for the registry client's tests: serves the
// images a test pushes into it, with configurable authentication (anonymous, Bearer token
// realm, Basic) and faults (5xx, 429, dropped connections, ignored ranges, corrupt blobs,
// blob redirects to a second "storage" server). Every request is recorded for assertions.
import { createHash } from "node:crypto";
import type { Server } from "bun";

export type AuthMode = "anonymous" | "bearer" | "basic";

export interface FakeRegistryOptions {
  auth?: AuthMode;
  /** Required credentials for Basic auth, or for the token endpoint in Bearer mode. */
  username?: string;
  password?: string;
  /** The JSON field the token endpoint puts the token in. */
  tokenField?: "token" | "access_token";
}

export interface RecordedRequest {
  server: "registry" | "storage" | "token";
  path: string;
  query: string;
  headers: Record<string, string>;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
}

/** A fault consumed by the next matching requests: returns the response to send instead. */
interface Fault {
  matches: (path: string) => boolean;
  remaining: number;
  respond: (request: Request) => Response;
}

export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
export const DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
export const DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+prettyjws";
export const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";

export function sha256(bytes: Uint8Array | string): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

export class FakeRegistry {
  readonly requests: RecordedRequest[] = [];
  readonly blobs = new Map<string, Uint8Array>();
  /** Blobs served with other bytes than their digest says. */
  readonly corrupt = new Map<string, Uint8Array>();
  /** When set, blob requests are answered with a redirect to the storage server. */
  redirectBlobs = false;
  /** When set, Range headers are ignored and whole blobs are sent with 200. */
  ignoreRange = false;
  private readonly manifests = new Map<string, { bytes: Uint8Array; mediaType: string }>();
  private readonly faults: Fault[] = [];
  private readonly tokens = new Set<string>();
  private tokensIssued = 0;
  private readonly registry: Server<undefined>;
  private readonly storage: Server<undefined>;

  constructor(private readonly options: FakeRegistryOptions = {}) {
    this.registry = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (request) => this.handle(request) });
    this.storage = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (request) => this.handleStorage(request),
    });
  }

  /** `127.0.0.1:<port>`, the registry name to put in references. */
  get host(): string {
    return `127.0.0.1:${this.registry.port}`;
  }

  get storageHost(): string {
    return `127.0.0.1:${this.storage.port}`;
  }

  stop(): void {
    this.registry.stop(true);
    this.storage.stop(true);
  }

  registryRequests(pathPart = ""): RecordedRequest[] {
    return this.requests.filter(
      (request) => request.server === "registry" && request.path.includes(pathPart),
    );
  }

  /** Forgets every issued token, so the next request with one gets a 401. */
  revokeTokens(): void {
    this.tokens.clear();
  }

  putBlob(bytes: Uint8Array, mediaType = OCI_LAYER): Descriptor {
    const digest = sha256(bytes);
    this.blobs.set(digest, bytes);
    return { mediaType, digest, size: bytes.length };
  }

  /** Stores a manifest under its digest and, if given, a tag; returns its descriptor. */
  putManifest(repository: string, document: object | string, mediaType: string, tag?: string): Descriptor {
    const bytes = new TextEncoder().encode(
      typeof document === "string" ? document : JSON.stringify(document),
    );
    const digest = sha256(bytes);
    this.manifests.set(`${repository}@${digest}`, { bytes, mediaType });
    if (tag) this.manifests.set(`${repository}:${tag}`, { bytes, mediaType });
    return { mediaType, digest, size: bytes.length };
  }

  /** Pushes a one-platform image with the given layer contents; returns its parts. */
  pushImage(
    repository: string,
    tag: string | undefined,
    layers: Uint8Array[],
    options: { platform?: { os: string; architecture: string; variant?: string }; mediaType?: string } = {},
  ) {
    const platform = options.platform ?? { os: "linux", architecture: "amd64" };
    const docker = options.mediaType === DOCKER_MANIFEST;
    const layerDescriptors = layers.map((bytes) =>
      this.putBlob(bytes, docker ? "application/vnd.docker.image.rootfs.diff.tar.gzip" : OCI_LAYER),
    );
    const config = {
      ...platform,
      config: { Cmd: ["/bin/sh"], Env: ["PATH=/usr/bin:/bin"] },
      rootfs: {
        type: "layers",
        diff_ids: layers.map((bytes) => sha256(Buffer.concat([bytes, Buffer.from("x")]))),
      },
    };
    const configBytes = new TextEncoder().encode(JSON.stringify(config));
    const configDescriptor = this.putBlob(
      configBytes,
      docker ? "application/vnd.docker.container.image.v1+json" : "application/vnd.oci.image.config.v1+json",
    );
    const mediaType = options.mediaType ?? OCI_MANIFEST;
    const manifest = { schemaVersion: 2, mediaType, config: configDescriptor, layers: layerDescriptors };
    const descriptor = this.putManifest(repository, manifest, mediaType, tag);
    return {
      manifest: { ...descriptor, platform },
      config: configDescriptor,
      configBytes,
      layers: layerDescriptors,
    };
  }

  /** Pushes an index (or Docker manifest list) of manifests already pushed. */
  pushIndex(repository: string, tag: string, entries: Descriptor[], mediaType = OCI_INDEX): Descriptor {
    return this.putManifest(repository, { schemaVersion: 2, mediaType, manifests: entries }, mediaType, tag);
  }

  /** The next `times` requests whose path contains `pathPart` get `status` (and headers). */
  failNext(pathPart: string, times: number, status: number, headers: Record<string, string> = {}): void {
    this.respondNext(pathPart, times, () => new Response("fault", { status, headers }));
  }

  /** The next `times` requests for blob `digest` send `bytesBeforeDrop` bytes, then reset. */
  dropBlobMidway(digest: string, bytesBeforeDrop: number, times = 1): void {
    this.respondNext(`/blobs/${digest}`, times, () => {
      const prefix = (this.blobs.get(digest) ?? new Uint8Array()).subarray(0, bytesBeforeDrop);
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(prefix);
          await Bun.sleep(20);
          controller.error();
        },
      });
      return new Response(body, { headers: { "Content-Type": "application/octet-stream" } });
    });
  }

  /** The next `times` requests whose path contains `pathPart` are answered by `respond`. */
  respondNext(pathPart: string, times: number, respond: (request: Request) => Response): void {
    this.faults.push({ matches: (path) => path.includes(pathPart), remaining: times, respond });
  }

  private record(server: RecordedRequest["server"], request: Request): URL {
    const url = new URL(request.url);
    this.requests.push({ server, path: url.pathname, query: url.search, headers: request.headers.toJSON() });
    return url;
  }

  private handle(request: Request): Response {
    const url = this.record("registry", request);
    if (url.pathname === "/token") return this.issueToken(request, url);
    const fault = this.faults.find((candidate) => candidate.remaining > 0 && candidate.matches(url.pathname));
    if (fault) {
      fault.remaining--;
      return fault.respond(request);
    }
    const match = /^\/v2\/(?:(.+)\/(manifests|blobs)\/([^/]+))?$/.exec(url.pathname);
    if (!match) return new Response("not found", { status: 404 });
    const [, repository = "", kind, target = ""] = match;
    const denied = this.checkAuth(request, repository);
    if (denied) return denied;
    if (!kind) return Response.json({});
    if (kind === "manifests") {
      const found = this.manifests.get(`${repository}${target.startsWith("sha256:") ? "@" : ":"}${target}`);
      if (!found) return Response.json({ errors: [{ code: "MANIFEST_UNKNOWN" }] }, { status: 404 });
      return new Response(found.bytes, {
        headers: { "Content-Type": found.mediaType, "Docker-Content-Digest": sha256(found.bytes) },
      });
    }
    if (!this.blobs.has(target))
      return Response.json({ errors: [{ code: "BLOB_UNKNOWN" }] }, { status: 404 });
    if (this.redirectBlobs) {
      return new Response(null, {
        status: 307,
        headers: { Location: `http://${this.storageHost}/storage/${target}` },
      });
    }
    return this.serveBlob(request, target);
  }

  private handleStorage(request: Request): Response {
    const url = this.record("storage", request);
    return this.serveBlob(request, url.pathname.replace("/storage/", ""));
  }

  private serveBlob(request: Request, digest: string): Response {
    const bytes = this.corrupt.get(digest) ?? this.blobs.get(digest);
    if (!bytes) return new Response("not found", { status: 404 });
    const range = /^bytes=([0-9]+)-$/.exec(request.headers.get("range") ?? "");
    if (!range || this.ignoreRange) return new Response(bytes);
    const start = Number(range[1]);
    if (start >= bytes.length) return new Response(null, { status: 416 });
    return new Response(bytes.subarray(start), {
      status: 206,
      headers: { "Content-Range": `bytes ${start}-${bytes.length - 1}/${bytes.length}` },
    });
  }

  private checkAuth(request: Request, repository: string): Response | undefined {
    const mode = this.options.auth ?? "anonymous";
    const authorization = request.headers.get("authorization") ?? "";
    if (mode === "anonymous") return undefined;
    if (mode === "basic") {
      if (authorization === this.basicHeader()) return undefined;
      return new Response("unauthorized", {
        status: 401,
        headers: { "WWW-Authenticate": 'Basic realm="fake"' },
      });
    }
    const token = authorization.replace(/^Bearer /, "");
    if (authorization.startsWith("Bearer ") && this.tokens.has(token)) return undefined;
    const scope = repository ? `,scope="repository:${repository}:pull"` : "";
    const challenge = `Bearer realm="http://${this.host}/token",service="fake-registry"${scope}`;
    return new Response("unauthorized", { status: 401, headers: { "WWW-Authenticate": challenge } });
  }

  private issueToken(request: Request, url: URL): Response {
    if (this.options.username && request.headers.get("authorization") !== this.basicHeader()) {
      return new Response("bad credentials", { status: 401 });
    }
    this.tokensIssued++;
    const token = `token-${this.tokensIssued}-${url.searchParams.get("scope") ?? "none"}`;
    this.tokens.add(token);
    return Response.json({ [this.options.tokenField ?? "token"]: token, expires_in: 300 });
  }

  private basicHeader(): string {
    const { username = "", password = "" } = this.options;
    return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
  }
}
