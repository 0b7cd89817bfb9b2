// msb volume ls: named volumes (NAME KIND SIZE USED CREATED), or their JSON.
import { defineCommand } from "citty";
import { openStore } from "../store/store.ts";
import { info, print, printJson } from "../ui/output.ts";
import { renderVolumeTable, volumeJson } from "../ui/volume-render.ts";
import { listVolumeSummaries } from "../volume/volumes.ts";
import { formatArgs, quietArgs } from "./_shared.ts";

export default defineCommand({
  meta: { name: "ls", description: "List named volumes" },
  args: { ...formatArgs, ...quietArgs },
  run({ args }) {
    const store = openStore();
    try {
      const volumes = listVolumeSummaries(store);
      if (args.format === "json") printJson(volumes.map(volumeJson));
      else if (args.quiet) {
        if (volumes.length > 0) print(volumes.map((volume) => volume.name).join("\n"));
      } else if (volumes.length === 0) info("No volumes found.");
      else print(renderVolumeTable(volumes));
    } finally {
      store.close();
    }
  },
});
