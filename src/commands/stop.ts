// msb stop <name>...: graceful shutdown (processes get SIGTERM, then SIGKILL after -t seconds),
// or an immediate kill with --force.
import { defineCommand } from "citty";
import { UsageError } from "../errors.ts";
import { stopSandbox } from "../sandbox/lifecycle.ts";
import { openStore } from "../store/store.ts";
import { success } from "../ui/output.ts";
import { positionals, quietArgs } from "./_shared.ts";

export default defineCommand({
  meta: { name: "stop", description: "Stop running sandboxes" },
  args: {
    name: { type: "positional", required: true, description: "Sandbox names" },
    force: { type: "boolean", alias: "f", description: "Kill at once instead of shutting down" },
    timeout: { type: "string", alias: "t", description: "Seconds to wait before killing (default 10)" },
    ...quietArgs,
  },
  async run({ args }) {
    const timeoutSeconds = args.timeout === undefined ? undefined : Number(args.timeout);
    if (timeoutSeconds !== undefined && !(Number.isInteger(timeoutSeconds) && timeoutSeconds >= 0)) {
      throw new UsageError(
        `invalid --timeout ${JSON.stringify(args.timeout)}`,
        "give whole seconds, e.g. -t 30",
      );
    }
    const store = openStore();
    try {
      for (const name of positionals(args)) {
        const started = performance.now();
        await stopSandbox(store, name, { force: args.force, timeoutSeconds });
        success("Stopped", name, performance.now() - started);
      }
    } finally {
      store.close();
    }
  },
});
