// msb uninstall <name>...: remove shims `msb install` wrote (and their --persist sandboxes);
// a file msb did not write is refused and left alone.
import { defineCommand } from "citty";
import { uninstallShim } from "../install/install.ts";
import { success } from "../ui/output.ts";
import { forEachName } from "./_each-name.ts";
import { quietArgs } from "./_shared.ts";

export default defineCommand({
  meta: { name: "uninstall", description: "Remove installed commands" },
  args: {
    name: { type: "positional", required: true, description: "Installed command names" },
    ...quietArgs,
  },
  run({ args }) {
    return forEachName(args, async (store, name) => {
      success("Uninstalled", await uninstallShim(store, name));
    });
  },
});
