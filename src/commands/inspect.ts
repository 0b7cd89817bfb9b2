// msb inspect <name>: a sandbox's configuration and state, with live figures while it runs.
import { defineCommand } from "citty";
import { measureRunning } from "../metrics/query.ts";
import { renderStatsSection } from "../metrics/render.ts";
import { currentSandbox } from "../sandbox/listing.ts";
import { inspectJson, inspectStats } from "../sandbox/view.ts";
import { openStore } from "../store/store.ts";
import { print, printJson } from "../ui/output.ts";
import { renderInspect } from "../ui/sandbox-render.ts";
import { formatArgs } from "./_shared.ts";

/** The CPU % window is ps's: inspect is run by scripts and must stay quick too. */
const INSPECT_QUERY = { timeoutMs: 2_000, windowMs: 100 };

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
      const stats = inspectStats(
        (await measureRunning(store, [record], INSPECT_QUERY)).get(record.name) ?? null,
      );
      if (args.format === "json") printJson(inspectJson(record, stats));
      else print(renderInspect(record) + renderStatsSection(stats));
    } finally {
      store.close();
    }
  },
});
