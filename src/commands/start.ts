// msb start <name>... [--secret ...]: boot stopped sandboxes again, with their data. Secrets read
// from the environment are read again from this command's; literal ones must be given again.
import { defineCommand } from "citty";
import { startSandbox } from "../sandbox/lifecycle.ts";
import { openStore } from "../store/store.ts";
import { success } from "../ui/output.ts";
import { repeatable } from "./_sandbox-args.ts";
import { positionals, quietArgs } from "./_shared.ts";

const args = {
  name: { type: "positional", required: true, description: "Sandbox names" },
  secret: {
    type: "string",
    valueHint: "ENV[=VALUE]",
    description: "A secret's value for this start (default: read from $ENV; repeatable)",
  },
  ...quietArgs,
} as const;

export default defineCommand({
  meta: { name: "start", description: "Start stopped sandboxes" },
  args,
  async run({ args: parsed, rawArgs }) {
    const secretFlags = repeatable(args, "secret", rawArgs);
    const store = openStore();
    try {
      for (const name of positionals(parsed)) {
        const started = performance.now();
        await startSandbox(store, name, secretFlags);
        success("Started", name, performance.now() - started);
      }
    } finally {
      store.close();
    }
  },
});
