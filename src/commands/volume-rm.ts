// msb volume rm <name>...: remove named volumes and their data; refused while a sandbox
// (running or stopped) mounts one, unless --force.
import { defineCommand } from "citty";
import { success } from "../ui/output.ts";
import { removeVolume } from "../volume/volumes.ts";
import { forEachName } from "./_each-name.ts";
import { quietArgs } from "./_shared.ts";

export default defineCommand({
  meta: { name: "rm", description: "Remove named volumes" },
  args: {
    name: { type: "positional", required: true, description: "Volume names" },
    force: { type: "boolean", alias: "f", description: "Remove even when sandboxes use them" },
    ...quietArgs,
  },
  run({ args }) {
    return forEachName(args, async (store, name) => {
      await removeVolume(store, name, { force: args.force });
      success("Removed", name);
    });
  },
});
