// msb load [-i archive.tar]: import images from a docker-save or OCI layout archive.
import { createReadStream, existsSync } from "node:fs";
import { defineCommand } from "citty";
import { UsageError } from "../errors.ts";
import { loadImages } from "../image/load.ts";
import { openStore } from "../store/store.ts";
import { print } from "../ui/output.ts";
import { quietArgs } from "./_shared.ts";

export default defineCommand({
  meta: { name: "load", description: "Load images from a docker-save or OCI layout archive" },
  args: {
    input: { type: "string", alias: "i", description: "Archive to read ('-' or absent: stdin)" },
    tag: { type: "string", description: "Name for an image the archive leaves unnamed" },
    platform: { type: "string", description: "Platform to load from a multi-platform archive" },
    ...quietArgs,
  },
  async run({ args }) {
    const fromStdin = args.input === undefined || args.input === "-";
    if (fromStdin && process.stdin.isTTY) {
      throw new UsageError(
        "no archive given and stdin is a terminal",
        "use 'msb load -i image.tar' or pipe one in",
      );
    }
    if (!fromStdin && !existsSync(args.input as string)) {
      throw new UsageError(`archive not found: ${args.input}`, "check the path given to -i");
    }
    const source = fromStdin
      ? process.stdin
      : createReadStream(args.input as string, { highWaterMark: 1 << 20 });
    const store = openStore();
    try {
      const result = await loadImages(store, source, { tag: args.tag, platform: args.platform });
      for (const image of result.images) print(`Loaded image: ${image.reference}`);
    } finally {
      store.close();
    }
  },
});
