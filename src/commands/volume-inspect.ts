// msb volume inspect <name>: a volume's kind, quota, use, owner, path and users, as JSON.
import { defineCommand } from "citty";
import { openStore } from "../store/store.ts";
import { printJson } from "../ui/output.ts";
import { volumeJson } from "../ui/volume-render.ts";
import { inspectVolume } from "../volume/volumes.ts";

export default defineCommand({
  meta: { name: "inspect", description: "Show a named volume as JSON" },
  args: { name: { type: "positional", required: true, description: "Volume name" } },
  run({ args }) {
    const store = openStore();
    try {
      printJson(volumeJson(inspectVolume(store, args.name)));
    } finally {
      store.close();
    }
  },
});
