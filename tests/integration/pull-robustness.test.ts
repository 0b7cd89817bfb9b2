// `msb pull` when things go wrong or overlap: a pull killed mid-download resumes from its
// partial blob, two pulls of one image at once both succeed without corrupting the store, and a
// layer that tries to escape the image root fails naming layer and entry, leaving nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { FakeRegistry } from "../helpers/fake-registry.ts";
import {
  hostArchitecture,
  type ImageParts,
  layerFromEntries,
  makeImage,
  pushImage,
  uniqueImage,
} from "../helpers/image-builder.ts";
import { type LocalRegistry, startRegistry } from "../helpers/local-registry.ts";
import { MSB_BINARY, requireMsbBinary, runMsb, runMsbOk, tempMsbHome } from "../helpers/msb-cli.ts";
import { announceSkip, requireDockerRegistry } from "../helpers/skip.ts";

function bodyBytes(body: Uint8Array | Blob): Promise<Uint8Array> {
  return body instanceof Uint8Array ? Promise.resolve(body) : body.bytes();
}

async function serveFromFake(fake: FakeRegistry, repository: string, tag: string, image: ImageParts) {
  for (const layer of image.layers) fake.putBlob(await bodyBytes(layer.body), layer.mediaType);
  fake.putBlob(await bodyBytes(image.config.body), image.config.mediaType);
  fake.putManifest(repository, new TextDecoder().decode(image.manifest), image.manifestMediaType, tag);
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

describe("an interrupted pull", () => {
  test("resumes from the partial blob with a Range request", async () => {
    requireMsbBinary();
    const fake = new FakeRegistry();
    const home = await tempMsbHome();
    try {
      const image = uniqueImage("resume", 3 << 20);
      await serveFromFake(fake, "big/app", "1", image);
      const layer = image.layers[0]!;
      const sent = 1 << 20;
      const layerBytes = await bodyBytes(layer.body);
      // The first blob request sends 1 MiB and then stalls, like a dead connection.
      fake.respondNext(`/blobs/${layer.digest}`, 1, () => {
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(layerBytes.subarray(0, sent));
          },
        });
        return new Response(body, { headers: { "Content-Length": String(layer.size) } });
      });
      const reference = `${fake.host}/big/app:1`;
      const partial = join(home.path, "blobs/sha256", `${layer.digest.slice(7)}.partial`);
      const first = Bun.spawn([MSB_BINARY, "pull", "-q", reference], {
        env: { ...process.env, MSB_HOME: home.path, NO_COLOR: "1" },
        stdout: "ignore",
        stderr: "ignore",
      });
      await waitFor(() => existsSync(partial) && statSync(partial).size >= sent, 15_000, "the partial blob");
      first.kill("SIGKILL");
      await first.exited;

      await runMsbOk(["pull", "-q", reference], { msbHome: home.path });
      const blobRequests = fake.registryRequests(`/blobs/${layer.digest}`);
      expect(blobRequests.at(-1)?.headers.range).toBe(`bytes=${sent}-`);
      expect(readdirSync(join(home.path, "blobs/sha256")).filter((name) => name.includes("."))).toEqual([]);
      const listed = await runMsbOk(["images", "-q"], { msbHome: home.path });
      expect(listed.stdout.trim()).toBe(reference);
    } finally {
      fake.stop();
      await home.remove();
    }
  });
});

const registrySkip = announceSkip("pull robustness (real registry)", requireDockerRegistry());

describe.skipIf(registrySkip !== undefined)("pulls against a real registry", () => {
  let registry: LocalRegistry;
  beforeAll(async () => {
    requireMsbBinary();
    registry = await startRegistry();
  });
  afterAll(async () => {
    await registry?.stop();
  });

  test("two pulls of the same image at once both succeed and store it once", async () => {
    const pushed = await pushImage(registry, "race/app", "1", uniqueImage("race", 2 << 20));
    const home = await tempMsbHome();
    try {
      const [a, b] = await Promise.all([
        runMsb(["pull", "-q", pushed.reference], { msbHome: home.path }),
        runMsb(["pull", "-q", pushed.reference], { msbHome: home.path }),
      ]);
      expect([a.code, b.code, a.stderr + b.stderr]).toEqual([0, 0, ""]);
      const blobs = readdirSync(join(home.path, "blobs/sha256")).sort();
      const expected = [
        pushed.manifestDigest,
        pushed.configDigest,
        ...pushed.layers.map((layer) => layer.digest),
      ]
        .map((digest) => digest.slice(7))
        .sort();
      expect(blobs).toEqual(expected);
      expect(readdirSync(join(home.path, "images", pushed.manifestDigest.slice(7)))).toEqual([
        "rootfs.erofs",
      ]);
    } finally {
      await home.remove();
    }
  });

  test("a layer escaping the root fails naming layer and entry, and leaves nothing behind", async () => {
    const good = layerFromEntries([{ type: "file", path: "etc/ok", data: "ok\n" }]);
    const evil = layerFromEntries([{ type: "file", path: "../../etc/evil", data: "evil\n" }]);
    const pushed = await pushImage(
      registry,
      "escape/app",
      "1",
      makeImage([good, evil], { architecture: hostArchitecture() }),
    );
    const home = await tempMsbHome();
    try {
      const result = await runMsb(["pull", pushed.reference], { msbHome: home.path });
      expect(result.code).toBe(5);
      expect(result.stderr).toContain(`layer 2/2 (${evil.digest})`);
      expect(result.stderr).toContain('"../../etc/evil"');
      expect(result.stderr).not.toContain("    at ");
      expect(readdirSync(join(home.path, "images"))).toEqual([]);
      expect(readdirSync(join(home.path, "blobs/sha256"))).toEqual([]);
      expect((await runMsbOk(["images", "-q"], { msbHome: home.path })).stdout).toBe("");
    } finally {
      await home.remove();
    }
  });
});
