// msb volume create <name> [--size 5G] [--opt uid=N,gid=N]: a directory volume, or with --size
// an ext4 disk whose size is a quota the filesystem enforces.
import { defineCommand } from "citty";
import { openStore } from "../store/store.ts";
import { print, success } from "../ui/output.ts";
import { formatExactSize } from "../ui/sandbox-render.ts";
import { parseVolumeOptions, parseVolumeSize, validateVolumeName } from "../volume/volume-options.ts";
import { createVolume } from "../volume/volumes.ts";
import { repeatable } from "./_sandbox-args.ts";
import { quietArgs } from "./_shared.ts";

const args = {
  name: { type: "positional", required: true, description: "Volume name" },
  size: {
    type: "string",
    valueHint: "size",
    description: "Make it an ext4 disk of this size, a hard quota (e.g. 5G; at least 16M)",
  },
  opt: {
    type: "string",
    alias: "o",
    valueHint: "uid=N,gid=N",
    description: "Owner of the volume's root directory (repeatable)",
  },
  ...quietArgs,
} as const;

export default defineCommand({
  meta: { name: "create", description: "Create a named volume" },
  args,
  async run({ args: parsed, rawArgs }) {
    const name = validateVolumeName(parsed.name);
    const sizeBytes = parsed.size === undefined ? null : parseVolumeSize(parsed.size);
    const owner = parseVolumeOptions(repeatable(args, "opt", rawArgs));
    const store = openStore();
    try {
      await createVolume(store, { name, sizeBytes, owner });
      if (parsed.quiet) print(name);
      else success("Created", sizeBytes === null ? name : `${name} (${formatExactSize(sizeBytes)} disk)`);
    } finally {
      store.close();
    }
  },
});
