// msb rm <name>...: remove sandboxes and everything they stored (--force stops running ones).
import { defineCommand } from "citty";
import { MsbError } from "../errors.ts";
import { removeSandbox } from "../sandbox/lifecycle.ts";
import { openStore } from "../store/store.ts";
import { isDebug, success } from "../ui/output.ts";
import { renderError } from "../ui/render-error.ts";
import { positionals, quietArgs } from "./_shared.ts";

export default defineCommand({
  meta: { name: "rm", description: "Remove sandboxes" },
  args: {
    name: { type: "positional", required: true, description: "Sandbox names" },
    force: { type: "boolean", alias: "f", description: "Stop running sandboxes first" },
    ...quietArgs,
  },
  async run({ args }) {
    const store = openStore();
    let status = 0;
    try {
      for (const name of positionals(args)) {
        try {
          await removeSandbox(store, name, { force: args.force });
          success("Removed", name);
        } catch (error) {
          if (!(error instanceof MsbError)) throw error;
          process.stderr.write(renderError(error, isDebug()).text);
          status ||= error.exitCode;
        }
      }
      return status;
    } finally {
      store.close();
    }
  },
});
