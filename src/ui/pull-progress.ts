// Renders pull events: a live block of per-layer lines (bytes, speed) on a terminal, plain
// one-line-per-step output otherwise, nothing with --quiet.
import { colors } from "consola/utils";
import type { PullEvents } from "../image/pull.ts";
import type { LayerDescriptor } from "../image/registry/client.ts";
import { formatSize, shortDigest } from "./format.ts";

interface LayerState {
  layer: LayerDescriptor;
  done: number;
  started: number;
  status: "waiting" | "downloading" | "cached" | "complete";
}

export interface PullProgress extends PullEvents {
  stop(): void;
}

export function createPullProgress(options: { quiet: boolean; stream?: NodeJS.WriteStream }): PullProgress {
  const stream = options.stream ?? process.stderr;
  if (options.quiet) return { stop() {} };
  return stream.isTTY ? liveProgress(stream) : lineProgress(stream);
}

function lineProgress(stream: NodeJS.WriteStream): PullProgress {
  const write = (text: string) => stream.write(`${text}\n`);
  return {
    resolved: (info) =>
      write(
        `Resolved ${info.reference} to ${info.manifestDigest} (${info.layers.length} ${info.layers.length === 1 ? "layer" : "layers"})`,
      ),
    layerStart: (layer, cached) =>
      write(`${cached ? "Cached " : "Pulling"} ${shortDigest(layer.digest)} (${formatSize(layer.size)})`),
    layerDone: (layer) => write(`Done    ${shortDigest(layer.digest)}`),
    buildStart: () => write("Building root filesystem"),
    stop() {},
  };
}

function liveProgress(stream: NodeJS.WriteStream): PullProgress {
  const layers = new Map<string, LayerState>();
  let drawnLines = 0;
  let building = false;
  let timer: ReturnType<typeof setInterval> | undefined;
  let stopped = false;

  const draw = () => {
    const lines = [...layers.values()].map(describe);
    if (building) lines.push(`${colors.cyan("⠿")} building root filesystem`);
    let out = drawnLines > 0 ? `\x1b[${drawnLines}A` : "";
    for (const line of lines) out += `\x1b[2K${line}\n`;
    stream.write(`${out}\x1b[J`);
    drawnLines = lines.length;
  };

  return {
    resolved(info) {
      for (const layer of info.layers)
        layers.set(layer.digest, { layer, done: 0, started: 0, status: "waiting" });
      timer = setInterval(draw, 100);
      draw();
    },
    layerStart(layer, cached) {
      const state = layers.get(layer.digest);
      if (!state) return;
      state.status = cached ? "cached" : "downloading";
      state.started = performance.now();
    },
    layerProgress(layer, done) {
      const state = layers.get(layer.digest);
      if (state) state.done = done;
    },
    layerDone(layer) {
      const state = layers.get(layer.digest);
      if (state && state.status === "downloading") {
        state.status = "complete";
        state.done = layer.size;
      }
    },
    buildStart() {
      building = true;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      if (timer) clearInterval(timer);
      building = false;
      if (layers.size > 0) draw();
    },
  };
}

function describe(state: LayerState): string {
  const digest = shortDigest(state.layer.digest);
  const total = formatSize(state.layer.size);
  switch (state.status) {
    case "waiting":
      return `${colors.dim("·")} ${digest}  waiting`;
    case "cached":
      return `${colors.green("✓")} ${digest}  ${total} (cached)`;
    case "complete":
      return `${colors.green("✓")} ${digest}  ${total}`;
    case "downloading": {
      const seconds = Math.max((performance.now() - state.started) / 1000, 0.001);
      const speed = formatSize(state.done / seconds);
      return `${colors.cyan("↓")} ${digest}  ${formatSize(state.done)} / ${total}  ${speed}/s`;
    }
  }
}
