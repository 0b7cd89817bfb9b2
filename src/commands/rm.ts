// msb rm <name>...: remove sandboxes and everything they stored (--force stops running ones).
import { defineCommand } from "citty";
import { removeSandbox } from "../sandbox/lifecycle.ts";
import { success } from "../ui/output.ts";
import { forEachName } from "./_each-name.ts";
import { quietArgs } from "./_shared.ts";

export default defineCommand({
  meta: { name: "rm", description: "Remove sandboxes" },
  args: {
    name: { type: "positional", required: true, description: "Sandbox names" },
    force: { type: "boolean", alias: "f", description: "Stop running sandboxes first" },
    ...quietArgs,
  },
  run({ args }) {
    return forEachName(args, async (store, name) => {
      await removeSandbox(store, name, { force: args.force });
      success("Removed", name);
    });
  },
});
