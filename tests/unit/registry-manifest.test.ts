import { describe, expect, test } from "bun:test";
import {
  layerCompression,
  MANIFEST_ACCEPT,
  MediaType,
  parseManifest,
} from "../../src/image/registry/manifest.ts";

const DIGEST = `sha256:${"b".repeat(64)}`;
const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const descriptor = (mediaType: string) => ({ mediaType, digest: DIGEST, size: 10 });
const manifest = (overrides: Record<string, unknown> = {}) => ({
  schemaVersion: 2,
  mediaType: MediaType.ociManifest,
  config: descriptor(MediaType.ociConfig),
  layers: [descriptor("application/vnd.oci.image.layer.v1.tar+gzip")],
  ...overrides,
});

describe("parseManifest", () => {
  test("reads an OCI manifest", () => {
    const parsed = parseManifest(encode(manifest()), MediaType.ociManifest, "x");
    expect(parsed).toMatchObject({
      kind: "manifest",
      mediaType: MediaType.ociManifest,
      layers: [{ size: 10 }],
    });
  });

  test("reads a Docker manifest list with platforms", () => {
    const list = {
      schemaVersion: 2,
      mediaType: MediaType.dockerManifestList,
      manifests: [
        {
          ...descriptor(MediaType.dockerManifest),
          platform: { os: "linux", architecture: "arm64", variant: "v8" },
        },
      ],
    };
    const parsed = parseManifest(encode(list), null, "x");
    expect(parsed.kind).toBe("index");
    if (parsed.kind === "index")
      expect(parsed.manifests[0]?.platform).toEqual({ os: "linux", architecture: "arm64", variant: "v8" });
  });

  test("infers the type from Content-Type, then from the shape", () => {
    const { mediaType: _omit, ...bare } = manifest({ mediaType: undefined });
    expect(parseManifest(encode(bare), `${MediaType.dockerManifest}; charset=utf-8`, "x").mediaType).toBe(
      MediaType.dockerManifest,
    );
    expect(parseManifest(encode(bare), "application/json", "x").mediaType).toBe(MediaType.ociManifest);
    expect(parseManifest(encode({ schemaVersion: 2, manifests: [] }), null, "x").kind).toBe("index");
  });

  test.each([
    [
      { schemaVersion: 1, name: "a", fsLayers: [] },
      MediaType.dockerSchema1Signed,
      "schema 1 manifest format",
    ],
    [{ schemaVersion: 1, name: "a", fsLayers: [] }, "application/json", "schema 1 manifest format"],
    [manifest({ schemaVersion: 3 }), null, "schemaVersion is 3"],
    [
      manifest({ layers: [descriptor("application/x-unknown")] }),
      null,
      "unsupported layer media type application/x-unknown",
    ],
    [
      manifest({ config: descriptor("application/vnd.cncf.helm.config.v1+json") }),
      null,
      "is not a container image",
    ],
    [
      manifest({ layers: [{ ...descriptor(MediaType.ociConfig), digest: "sha256:1234" }] }),
      null,
      "is not sha256:<64 hex digits>",
    ],
    [
      manifest({ layers: [{ ...descriptor("application/vnd.oci.image.layer.v1.tar"), size: -1 }] }),
      null,
      "bad size -1",
    ],
    [manifest({ layers: undefined }), null, "without a layers list"],
    [
      manifest({ mediaType: "application/vnd.oci.artifact.manifest.v1+json" }),
      null,
      "unsupported media type",
    ],
  ])("rejects %j", (document, contentType, message) => {
    expect(() => parseManifest(encode(document), contentType, "ex/ample")).toThrow(message);
  });

  test("rejects non-JSON", () => {
    expect(() => parseManifest(new TextEncoder().encode("<html>"), null, "ex")).toThrow(
      "invalid manifest for ex: not JSON",
    );
  });
});

test("layer compressions", () => {
  expect(layerCompression("application/vnd.oci.image.layer.v1.tar+zstd")).toBe("zstd");
  expect(layerCompression("application/vnd.docker.image.rootfs.diff.tar.gzip")).toBe("gzip");
  expect(layerCompression("application/vnd.oci.image.layer.v1.tar")).toBe("none");
  expect(layerCompression("text/plain")).toBeUndefined();
});

test("the Accept header lists the four manifest formats", () => {
  for (const type of [
    MediaType.ociIndex,
    MediaType.dockerManifestList,
    MediaType.ociManifest,
    MediaType.dockerManifest,
  ]) {
    expect(MANIFEST_ACCEPT).toContain(type);
  }
  expect(MANIFEST_ACCEPT).not.toContain(MediaType.dockerSchema1);
});
