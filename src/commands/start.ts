// msb start <name>...: boot stopped sandboxes again, with their data.
import { defineCommand } from "citty";
import { startSandbox } from "../sandbox/lifecycle.ts";
import { openStore } from "../store/store.ts";
import { success } from "../ui/output.ts";
import { positionals, quietArgs } from "./_shared.ts";

export default defineCommand({
  meta: { name: "start", description: "Start stopped sandboxes" },
  args: {
    name: { type: "positional", required: true, description: "Sandbox names" },
    ...quietArgs,
  },
  async run({ args }) {
    const store = openStore();
    try {
      for (const name of positionals(args)) {
        const started = performance.now();
        await startSandbox(store, name);
        success("Started", name, performance.now() - started);
      }
    } finally {
      store.close();
    }
  },
});
