// msb volume rm <name>...: remove named volumes and their data; refused while a sandbox
// (running or stopped) mounts one, unless --force.
import { defineCommand } from "citty";
import { MsbError } from "../errors.ts";
import { openStore } from "../store/store.ts";
import { isDebug, success } from "../ui/output.ts";
import { renderError } from "../ui/render-error.ts";
import { removeVolume } from "../volume/volumes.ts";
import { positionals, quietArgs } from "./_shared.ts";

export default defineCommand({
  meta: { name: "rm", description: "Remove named volumes" },
  args: {
    name: { type: "positional", required: true, description: "Volume names" },
    force: { type: "boolean", alias: "f", description: "Remove even when sandboxes use them" },
    ...quietArgs,
  },
  async run({ args }) {
    const store = openStore();
    let status = 0;
    try {
      for (const name of positionals(args)) {
        try {
          await removeVolume(store, name, { force: args.force });
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
