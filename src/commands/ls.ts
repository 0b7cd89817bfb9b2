// msb ls: list sandboxes (NAME IMAGE STATUS CREATED).
import { defineCommand } from "citty";
import { currentSandboxes } from "../sandbox/listing.ts";
import { filterForList, lsJson, NO_SANDBOXES } from "../sandbox/view.ts";
import { openStore } from "../store/store.ts";
import { info, print, printJson } from "../ui/output.ts";
import { renderLsTable, renderNames } from "../ui/sandbox-render.ts";
import { formatArgs, quietArgs } from "./_shared.ts";

export default defineCommand({
  meta: { name: "ls", description: "List sandboxes" },
  args: {
    running: { type: "boolean", description: "Only running sandboxes" },
    stopped: { type: "boolean", description: "Only sandboxes that are not running" },
    ...formatArgs,
    ...quietArgs,
  },
  async run({ args }) {
    const store = openStore();
    try {
      const records = filterForList(await currentSandboxes(store), {
        running: args.running,
        stopped: args.stopped,
      });
      if (args.format === "json") printJson(lsJson(records));
      else if (args.quiet) {
        if (records.length > 0) print(renderNames(records));
      } else if (records.length === 0) info(NO_SANDBOXES);
      else print(renderLsTable(records));
    } finally {
      store.close();
    }
  },
});
