// msb uninstall <name>...: remove shims `msb install` wrote (and their --persist sandboxes);
// a file msb did not write is refused and left alone.
import { defineCommand } from "citty";
import { MsbError } from "../errors.ts";
import { uninstallShim } from "../install/install.ts";
import { openStore } from "../store/store.ts";
import { isDebug, success } from "../ui/output.ts";
import { renderError } from "../ui/render-error.ts";
import { positionals, quietArgs } from "./_shared.ts";

export default defineCommand({
  meta: { name: "uninstall", description: "Remove installed commands" },
  args: {
    name: { type: "positional", required: true, description: "Installed command names" },
    ...quietArgs,
  },
  async run({ args }) {
    const store = openStore();
    let status = 0;
    try {
      for (const name of positionals(args)) {
        try {
          success("Uninstalled", await uninstallShim(store, name));
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
