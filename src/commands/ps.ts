// msb ps [name]: running sandboxes with their command (-a: all of them).
import { defineCommand } from "citty";
import { currentSandbox, currentSandboxes } from "../sandbox/listing.ts";
import { NO_RUNNING_SANDBOXES, NO_SANDBOXES, psEntries } from "../sandbox/view.ts";
import { openStore } from "../store/store.ts";
import { info, print, printJson } from "../ui/output.ts";
import { renderNames, renderPsTable } from "../ui/sandbox-render.ts";
import { formatArgs, quietArgs } from "./_shared.ts";

export default defineCommand({
  meta: { name: "ps", description: "Show running sandboxes" },
  args: {
    name: { type: "positional", required: false, description: "One sandbox" },
    all: { type: "boolean", alias: "a", description: "Include sandboxes that are not running" },
    ...formatArgs,
    ...quietArgs,
  },
  async run({ args }) {
    const store = openStore();
    try {
      if (args.name !== undefined) {
        const [entry] = psEntries([await currentSandbox(store, args.name)], { all: true });
        if (args.format === "json") printJson(entry);
        else print(renderPsTable(entry ? [entry] : []));
        return;
      }
      const entries = psEntries(await currentSandboxes(store), { all: args.all });
      if (args.format === "json") printJson(entries);
      else if (args.quiet) {
        if (entries.length > 0) print(renderNames(entries));
      } else if (entries.length === 0) info(args.all ? NO_SANDBOXES : NO_RUNNING_SANDBOXES);
      else print(renderPsTable(entries));
    } finally {
      store.close();
    }
  },
});
