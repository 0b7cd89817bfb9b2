// msb create --name <n> [options] <image>: create a persistent sandbox and boot it in the
// background; returns once its agent is ready.
import { defineCommand } from "citty";
import { ConflictError, UsageError } from "../errors.ts";
import { startSandbox } from "../sandbox/lifecycle.ts";
import { provisionSandbox } from "../sandbox/provision.ts";
import { openStore } from "../store/store.ts";
import { isQuiet, success } from "../ui/output.ts";
import { createPullProgress } from "../ui/pull-progress.ts";
import { sandboxArgs, sandboxOptionsInput, splitGuestCommand } from "./_sandbox-args.ts";

const args = {
  image: { type: "positional", required: false, description: "Image reference, e.g. alpine:3.20" },
  ...sandboxArgs,
} as const;

export default defineCommand({
  meta: { name: "create", description: "Create a sandbox and start it in the background" },
  args,
  async run({ args: parsed, rawArgs }) {
    const { positionals } = splitGuestCommand(args, rawArgs);
    const image = positionals[0];
    if (image === undefined)
      throw new UsageError("no image given", "usage: msb create --name <name> <image>");
    const input = sandboxOptionsInput(args, rawArgs);
    if (input.name === undefined)
      throw new UsageError("create needs --name", "e.g. msb create --name dev alpine");
    const store = openStore();
    const progress = createPullProgress({ quiet: isQuiet() });
    try {
      const started = performance.now();
      const { record, reused } = await provisionSandbox(store, {
        image,
        input,
        replace: Boolean(parsed.replace),
        pullEvents: progress,
      });
      progress.stop();
      if (reused) {
        throw new ConflictError(
          `sandbox ${record.name} already exists`,
          `use --replace, or 'msb rm ${record.name}'`,
        );
      }
      await startSandbox(store, record.name, input.secret ?? []);
      success("Created", record.name, performance.now() - started);
    } finally {
      progress.stop();
      store.close();
    }
  },
});
