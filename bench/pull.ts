// Pull benchmark: `msb pull` of a ~250 MB, ~5000-file, 4-layer image from a loopback registry,
// against a baseline of `curl` + `tar -xzf` of the same layers. The generated image is cached in
// .tmp/bench so reruns skip the generation. Usage and how to read it: bench/README.md.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  hostArchitecture,
  type Layer,
  layerFromDirectory,
  MEDIA_TYPES,
  makeImage,
} from "../tests/helpers/image-builder.ts";
import { startRegistry } from "../tests/helpers/local-registry.ts";
import { MSB_BINARY, REPO_ROOT, rootfsPath } from "../tests/helpers/msb-cli.ts";
import { pushBlob, pushManifest } from "../tests/helpers/oci-push.ts";
import { DOCKER_REGISTRY } from "../tests/helpers/skip.ts";
import { median, runsOption } from "./measure.ts";

const AIM_RATIO = 1.5;
const DEFAULT_RUNS = 3;
const MB = 1_000_000;
const CACHE_DIR = join(REPO_ROOT, ".tmp/bench");
const REPOSITORY = "bench/large";
const TIME_BINARY = "/usr/bin/time";
/** A RAM filesystem for the second baseline, which leaves out the disk's per-file cost. */
const TMPFS = "/dev/shm";

// Bump when the generator changes so a stale cache is rebuilt.
const GENERATOR_VERSION = 2;
/** Per layer: files of 100 B–64 KiB (log-uniform) and files of 1–5 MB. */
const LAYER_SPECS = [
  { name: "base", smallFiles: 2000, bigFiles: 40 },
  { name: "runtime", smallFiles: 1500, bigFiles: 10 },
  { name: "app", smallFiles: 1000, bigFiles: 8 },
  { name: "data", smallFiles: 500, bigFiles: 5 },
];
/** Share of 4 KiB blocks that are random bytes; the rest is word text. Gives gzip about 2.3x. */
const RANDOM_BLOCK_SHARE = 0.15;
const BLOCK = 4096;

interface CachedLayer {
  digest: string;
  size: number;
  diffId: string;
  uncompressedSize: number;
  files: number;
}

// ---- deterministic content ----------------------------------------------------------------

/** mulberry32: tiny, fast, good enough to make incompressible bytes. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** 1 MiB of text from a 256-word vocabulary: compresses like source code or docs. */
function wordCorpus(next: () => number): Uint8Array {
  const letters = "abcdefghijklmnopqrstuvwxyz";
  const words = Array.from({ length: 256 }, () =>
    Array.from({ length: 3 + (next() % 7) }, () => letters[next() % 26]).join(""),
  );
  let text = "";
  while (text.length < 1 << 20) text += `${words[next() % 256]}${next() % 12 === 0 ? "\n" : " "}`;
  return new TextEncoder().encode(text.slice(0, 1 << 20));
}

function fileContent(size: number, next: () => number, corpus: Uint8Array): Uint8Array {
  const data = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += BLOCK) {
    const length = Math.min(BLOCK, size - offset);
    if (next() / 2 ** 32 < RANDOM_BLOCK_SHARE) {
      for (let i = 0; i < length; i += 4) {
        const word = next();
        for (let byte = 0; byte < 4 && i + byte < length; byte++)
          data[offset + i + byte] = word >>> (byte * 8);
      }
    } else {
      const start = next() % (corpus.length - BLOCK);
      data.set(corpus.subarray(start, start + length), offset);
    }
  }
  return data;
}

function generateLayerTree(dir: string, spec: (typeof LAYER_SPECS)[number], seed: number): number {
  const next = prng(seed);
  const corpus = wordCorpus(next);
  const sizes = [
    ...Array.from({ length: spec.smallFiles }, () => Math.floor(100 * 640 ** (next() / 2 ** 32))),
    ...Array.from({ length: spec.bigFiles }, () => MB + (next() % (4 * MB))),
  ];
  sizes.forEach((size, index) => {
    const subdir = join(dir, "opt", spec.name, `d${String(Math.floor(index / 50)).padStart(3, "0")}`);
    if (index % 50 === 0) mkdirSync(subdir, { recursive: true });
    writeFileSync(join(subdir, `f${String(index).padStart(5, "0")}.dat`), fileContent(size, next, corpus));
  });
  return sizes.reduce((total, size) => total + size, 0);
}

interface BenchImageLayers {
  layers: Layer[];
  meta: CachedLayer[];
}

const layerPrefix = (index: number) => join(CACHE_DIR, `layer-${index}`);

/** The benchmark image's layers, generated once and cached under .tmp/bench. */
async function cachedLayers(): Promise<BenchImageLayers> {
  const metaPath = join(CACHE_DIR, "image.json");
  const key = JSON.stringify({ GENERATOR_VERSION, LAYER_SPECS, RANDOM_BLOCK_SHARE });
  const cached = existsSync(metaPath) ? JSON.parse(readFileSync(metaPath, "utf8")) : undefined;
  const usable =
    cached?.key === key && LAYER_SPECS.every((_, index) => existsSync(`${layerPrefix(index)}.tar.gz`));
  if (!usable) return generateLayers(key, metaPath);
  const meta = cached.layers as CachedLayer[];
  return { layers: meta.map(toLayer), meta };
}

async function generateLayers(key: string, metaPath: string): Promise<BenchImageLayers> {
  console.error(`generating the benchmark image in ${CACHE_DIR} (once)...`);
  rmSync(CACHE_DIR, { recursive: true, force: true });
  mkdirSync(CACHE_DIR, { recursive: true });
  const meta: CachedLayer[] = [];
  for (const [index, spec] of LAYER_SPECS.entries()) {
    const treeDir = join(CACHE_DIR, `tree-${index}`);
    const uncompressedSize = generateLayerTree(treeDir, spec, 1000 + index);
    const layer = await layerFromDirectory(treeDir, layerPrefix(index));
    rmSync(treeDir, { recursive: true, force: true });
    meta.push({
      digest: layer.digest,
      size: layer.size,
      diffId: layer.diffId,
      uncompressedSize,
      files: spec.smallFiles + spec.bigFiles,
    });
  }
  writeFileSync(metaPath, JSON.stringify({ key, layers: meta }, null, 2));
  return { layers: meta.map(toLayer), meta };
}

function toLayer(entry: CachedLayer, index: number): Layer {
  return {
    mediaType: MEDIA_TYPES.ociLayerGzip,
    digest: entry.digest,
    size: entry.size,
    diffId: entry.diffId,
    body: Bun.file(`${layerPrefix(index)}.tar.gz`),
  };
}

// ---- measuring --------------------------------------------------------------------------------

async function run(argv: string[], env?: Record<string, string>): Promise<void> {
  const child = Bun.spawn(argv, { stdout: "ignore", stderr: "pipe", env: { ...process.env, ...env } });
  const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
  if (code !== 0) throw new Error(`${argv.join(" ")} exited ${code}\n${stderr}`);
}

async function timed(action: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await action();
  return (performance.now() - started) / 1000;
}

/**
 * Sequential `curl` of every layer blob to a file, then `tar -xzf` of each into one dir under
 * `workDir`. Put it on the filesystem MSB_HOME is on: creating thousands of files costs more than
 * the bytes on some disks, and msb writes one EROFS file instead.
 */
async function baseline(registryUrl: string, layers: Layer[], workDir: string): Promise<number> {
  const rootDir = join(workDir, "root");
  mkdirSync(rootDir, { recursive: true });
  await run(["sync"]);
  const seconds = await timed(async () => {
    for (const [index, layer] of layers.entries()) {
      const url = `${registryUrl}/v2/${REPOSITORY}/blobs/${layer.digest}`;
      await run(["curl", "-s", "--fail", "-o", join(workDir, `layer-${index}.tar.gz`), url]);
    }
    for (const index of layers.keys()) {
      await run(["tar", "-xzf", join(workDir, `layer-${index}.tar.gz`), "-C", rootDir]);
    }
  });
  rmSync(workDir, { recursive: true, force: true });
  return seconds;
}

interface Measured {
  seconds: number;
  peakRssBytes: number;
}

/** Runs `argv` measuring wall time and peak RSS: /usr/bin/time if present, else sampled VmHWM. */
async function measureProcess(
  argv: string[],
  env: Record<string, string>,
  rssFile: string,
): Promise<Measured> {
  const useTime = existsSync(TIME_BINARY);
  let sampledPeakKb = 0;
  const started = performance.now();
  const child = Bun.spawn(useTime ? [TIME_BINARY, "-f", "%M", "-o", rssFile, ...argv] : argv, {
    env: { ...process.env, ...env },
    stdout: "ignore",
    stderr: "pipe",
  });
  const sampler = useTime
    ? undefined
    : setInterval(() => {
        const statusPath = `/proc/${child.pid}/status`;
        const status = existsSync(statusPath) ? readFileSync(statusPath, "utf8") : "";
        sampledPeakKb = Math.max(sampledPeakKb, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
      }, 20);
  const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  if (code !== 0) throw new Error(`${argv.join(" ")} exited ${code}\n${stderr}`);
  const peakKb = useTime ? Number(readFileSync(rssFile, "utf8").trim().split("\n").at(-1)) : sampledPeakKb;
  return { seconds, peakRssBytes: peakKb * 1024 };
}

/** `msb pull -q` into a fresh MSB_HOME, checked to have built the image's root. */
async function msbPull(reference: string, manifestDigest: string, workDir: string): Promise<Measured> {
  const msbHome = join(workDir, "msb-home");
  mkdirSync(msbHome, { recursive: true });
  await run(["sync"]);
  const env = { MSB_HOME: msbHome, NO_COLOR: "1" };
  const measured = await measureProcess([MSB_BINARY, "pull", "-q", reference], env, join(workDir, "rss.txt"));
  if (!existsSync(rootfsPath(msbHome, manifestDigest)))
    throw new Error("msb pull exited 0 but left no rootfs.erofs");
  rmSync(workDir, { recursive: true, force: true });
  return measured;
}

// ---- report -----------------------------------------------------------------------------------

function row(cells: string[], widths: number[]): string {
  return cells
    .map((cell, index) => (index === 0 ? cell.padEnd(widths[0]!) : cell.padStart(widths[index]!)))
    .join("  ");
}

function mb(bytes: number): string {
  return `${(bytes / MB).toFixed(1)} MB`;
}

async function main(): Promise<void> {
  const runs = runsOption(process.argv.slice(2), DEFAULT_RUNS);
  for (const [path, hint] of [
    [DOCKER_REGISTRY, "apt-get install docker-registry"],
    [MSB_BINARY, "bun run build"],
  ] as const) {
    if (!existsSync(path)) throw new Error(`${path} is missing (${hint})`);
  }
  for (const tool of ["curl", "tar", "gzip", "sync"]) {
    if (!Bun.which(tool)) throw new Error(`${tool} is not on PATH`);
  }

  const { layers, meta } = await cachedLayers();
  const compressed = meta.reduce((total, layer) => total + layer.size, 0);
  const uncompressed = meta.reduce((total, layer) => total + layer.uncompressedSize, 0);
  const files = meta.reduce((total, layer) => total + layer.files, 0);
  const largest = meta.reduce((max, layer) => (layer.uncompressedSize > max.uncompressedSize ? layer : max));

  const registry = await startRegistry();
  const workDir = join(CACHE_DIR, `run-${process.pid}`);
  const tmpfsDir = join(TMPFS, `msb-bench-${process.pid}`);
  try {
    const target = { url: registry.url };
    const image = makeImage(layers, { architecture: hostArchitecture(), cmd: ["/bin/true"] });
    for (const layer of layers) await pushBlob(target, REPOSITORY, layer);
    await pushBlob(target, REPOSITORY, image.config);
    await pushManifest(target, REPOSITORY, "latest", image.manifest, image.manifestMediaType);
    const reference = `${registry.host}/${REPOSITORY}:latest`;

    mkdirSync(workDir, { recursive: true });
    // What msb takes before doing any work, so the pull's own memory can be read off the peak.
    const idle = await measureProcess([MSB_BINARY, "--version"], {}, join(workDir, "idle-rss.txt"));
    const baselineRuns: number[] = [];
    const tmpfsRuns: number[] = [];
    const msbRuns: Measured[] = [];
    for (let index = 0; index < runs; index++) {
      baselineRuns.push(await baseline(registry.url, layers, join(workDir, `baseline-${index}`)));
      if (existsSync(TMPFS)) {
        tmpfsRuns.push(await baseline(registry.url, layers, tmpfsDir));
      }
      msbRuns.push(await msbPull(reference, image.manifestDigest, join(workDir, `msb-${index}`)));
    }

    const baselineSeconds = median(baselineRuns);
    const msbSeconds = median(msbRuns.map((measured) => measured.seconds));
    const peakRss = Math.max(...msbRuns.map((measured) => measured.peakRssBytes));
    const growth = peakRss - idle.peakRssBytes;
    const ratio = msbSeconds / baselineSeconds;
    const widths = [22, 9, 17, 19, 10];
    const rates = (seconds: number) => [
      seconds.toFixed(2),
      (compressed / MB / seconds).toFixed(1),
      (uncompressed / MB / seconds).toFixed(1),
    ];
    const seriesOf = (values: number[]) => values.map((value) => value.toFixed(2)).join(" ");
    const lines = [
      `image: ${layers.length} layers, ${files} files, ${mb(uncompressed)} uncompressed, ${mb(compressed)} gzip ` +
        `(${(uncompressed / compressed).toFixed(2)}x); largest layer ${mb(largest.uncompressedSize)} ` +
        `(${mb(largest.size)} gzip)`,
      `median of ${runs} run(s); baseline ${seriesOf(baselineRuns)} s; tmpfs ${seriesOf(tmpfsRuns)} s; ` +
        `msb ${seriesOf(msbRuns.map((m) => m.seconds))} s`,
      "",
      row(["", "wall (s)", "compressed MB/s", "uncompressed MB/s", "peak RSS"], widths),
      row(["baseline (curl + tar)", ...rates(baselineSeconds), "-"], widths),
      ...(tmpfsRuns.length
        ? [row(["baseline, tar to tmpfs", ...rates(median(tmpfsRuns)), "-"], widths)]
        : []),
      row(["msb pull", ...rates(msbSeconds), mb(peakRss)], widths),
      "",
      `msb / baseline: ${ratio.toFixed(2)}x (aim: within ${AIM_RATIO}x) ${ratio <= AIM_RATIO ? "PASS" : "MISS"}`,
      ...(tmpfsRuns.length
        ? [
            `msb / tmpfs baseline: ${(msbSeconds / median(tmpfsRuns)).toFixed(2)}x (no per-file filesystem cost)`,
          ]
        : []),
      `msb peak RSS: ${mb(peakRss)}, ${mb(growth)} above msb at rest (${mb(idle.peakRssBytes)}); ` +
        `the growth is ${(growth / largest.uncompressedSize).toFixed(2)}x the largest layer ` +
        `(${mb(largest.uncompressedSize)} uncompressed, ${mb(largest.size)} gzip)`,
    ];
    console.log(lines.join("\n"));
  } finally {
    rmSync(workDir, { recursive: true, force: true });
    rmSync(tmpfsDir, { recursive: true, force: true });
    await registry.stop();
  }
}

await main();
