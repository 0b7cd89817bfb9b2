// msb metrics [name...]: CPU, memory, disk and network use of running sandboxes; in a terminal
// it redraws every second until Ctrl-C, otherwise (or with --no-stream / --format json) once.
import { defineCommand } from "citty";
import { sandboxMetrics } from "../metrics/query.ts";
import { renderMetricsTable } from "../metrics/render.ts";
import { watchSandboxMetrics } from "../metrics/watch.ts";
import { openStore } from "../store/store.ts";
import { print, printJson } from "../ui/output.ts";
import { formatArgs, positionals } from "./_shared.ts";

/** Each round waits at most this long for a sandbox; one that does not answer shows "-". */
const QUERY = { timeoutMs: 2_000, windowMs: 250 };
/** Home, then clear the screen: each round replaces the last. */
const REDRAW = "\x1b[H\x1b[2J";

export default defineCommand({
  meta: { name: "metrics", description: "Show live CPU, memory, disk and network use of running sandboxes" },
  args: {
    name: { type: "positional", required: false, description: "Sandbox names (default: all running)" },
    stream: {
      type: "boolean",
      default: true,
      description: "Refresh every second in a terminal until Ctrl-C",
      negativeDescription: "Print once and exit",
    },
    ...formatArgs,
  },
  async run({ args }) {
    const names = positionals(args);
    const store = openStore();
    try {
      if (args.format === "json") {
        printJson(await sandboxMetrics(store, names, QUERY));
        return;
      }
      if (!args.stream || !process.stdout.isTTY) {
        print(renderMetricsTable(await sandboxMetrics(store, names, QUERY)));
        return;
      }
      const stop = new AbortController();
      const interrupt = () => stop.abort();
      process.once("SIGINT", interrupt);
      try {
        await watchSandboxMetrics(
          store,
          names,
          QUERY,
          (rows) => print(REDRAW + renderMetricsTable(rows)),
          stop.signal,
        );
      } finally {
        process.off("SIGINT", interrupt);
      }
    } finally {
      store.close();
    }
  },
});
