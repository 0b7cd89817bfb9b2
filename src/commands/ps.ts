// msb ps [name]: running sandboxes with their command, CPU % and memory (-a: all of them).
import { defineCommand } from "citty";
import { measureRunning } from "../metrics/query.ts";
import { currentSandbox, currentSandboxes } from "../sandbox/listing.ts";
import { NO_RUNNING_SANDBOXES, NO_SANDBOXES, psEntries, withPsStats } from "../sandbox/view.ts";
import type { SandboxRecord } from "../store/sandbox-records.ts";
import { openStore, type Store } from "../store/store.ts";
import { info, print, printJson } from "../ui/output.ts";
import { renderNames, renderPsTable } from "../ui/sandbox-render.ts";
import { formatArgs, quietArgs } from "./_shared.ts";

/** Short: `ps` must stay quick; a sandbox that does not answer in time shows "-". */
const PS_QUERY = { timeoutMs: 1_000, windowMs: 100 };

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
        const [entry] = await entriesWithStats(store, [await currentSandbox(store, args.name)], true);
        if (args.format === "json") printJson(entry);
        else print(renderPsTable(entry ? [entry] : []));
        return;
      }
      const records = await currentSandboxes(store);
      if (args.quiet && args.format !== "json") {
        const entries = psEntries(records, { all: args.all });
        if (entries.length > 0) print(renderNames(entries));
        return;
      }
      const entries = await entriesWithStats(store, records, Boolean(args.all));
      if (args.format === "json") printJson(entries);
      else if (entries.length === 0) info(args.all ? NO_SANDBOXES : NO_RUNNING_SANDBOXES);
      else print(renderPsTable(entries));
    } finally {
      store.close();
    }
  },
});

async function entriesWithStats(store: Store, records: SandboxRecord[], all: boolean) {
  const metrics = await measureRunning(store, records, PS_QUERY);
  return psEntries(records, { all }).map((entry) => withPsStats(entry, metrics.get(entry.name)));
}
