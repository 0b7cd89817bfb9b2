// msb rmi <ref>... (alias of `msb image rm`): remove images and free what nothing uses.
import { defineCommand } from "citty";
import { removeImages } from "../image/catalog.ts";
import { openStore } from "../store/store.ts";
import { formatSize } from "../ui/format.ts";
import { isDebug, success } from "../ui/output.ts";
import { renderError } from "../ui/render-error.ts";
import { positionals, quietArgs } from "./_shared.ts";

export default defineCommand({
  meta: { name: "rmi", description: "Remove images" },
  args: {
    reference: { type: "positional", required: true, description: "Image references or digests to remove" },
    force: { type: "boolean", alias: "f", description: "Remove even when a sandbox uses the image" },
    ...quietArgs,
  },
  async run({ args }) {
    const store = openStore();
    try {
      const result = await removeImages(store, positionals(args), Boolean(args.force));
      for (const reference of result.removed) success("Removed", reference);
      if (result.freedBytes > 0) success("Freed", formatSize(result.freedBytes));
      for (const failure of result.failures) process.stderr.write(renderError(failure.error, isDebug()).text);
      return result.failures[0]?.error.exitCode ?? 0;
    } finally {
      store.close();
    }
  },
});
