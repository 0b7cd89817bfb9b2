// msb pull <ref>: download an image and build its root filesystem.
import { defineCommand } from "citty";
import { pullImage } from "../image/pull.ts";
import { openStore } from "../store/store.ts";
import { success, warn } from "../ui/output.ts";
import { createPullProgress } from "../ui/pull-progress.ts";
import { pullArgs, quietArgs } from "./_shared.ts";

export default defineCommand({
  meta: { name: "pull", description: "Pull an image from a registry" },
  args: {
    reference: {
      type: "positional",
      required: true,
      description: "Image reference, e.g. alpine:3.20 or host:5000/app@sha256:…",
    },
    force: { type: "boolean", alias: "f", description: "Download and rebuild even if the image is present" },
    ...pullArgs,
    ...quietArgs,
  },
  async run({ args }) {
    const started = performance.now();
    const store = openStore();
    const progress = createPullProgress({ quiet: Boolean(args.quiet) });
    try {
      const result = await pullImage(
        store,
        args.reference,
        { force: args.force, platform: args.platform, insecure: args.insecure },
        progress,
      );
      progress.stop();
      for (const warning of result.warnings) warn(warning);
      success(result.upToDate ? "Up to date" : "Pulled", result.reference, performance.now() - started);
    } finally {
      progress.stop();
      store.close();
    }
  },
});
