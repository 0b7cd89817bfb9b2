// msb inspect <name>: a sandbox's configuration and state.
import { defineCommand } from "citty";
import { currentSandbox } from "../sandbox/listing.ts";
import { inspectJson } from "../sandbox/view.ts";
import { openStore } from "../store/store.ts";
import { print, printJson } from "../ui/output.ts";
import { renderInspect } from "../ui/sandbox-render.ts";
import { formatArgs } from "./_shared.ts";

export default defineCommand({
  meta: { name: "inspect", description: "Show a sandbox's configuration and state" },
  args: {
    name: { type: "positional", required: true, description: "Sandbox name" },
    ...formatArgs,
  },
  async run({ args }) {
    const store = openStore();
    try {
      const record = await currentSandbox(store, args.name);
      if (args.format === "json") printJson(inspectJson(record));
      else print(renderInspect(record));
    } finally {
      store.close();
    }
  },
});
