// msb run <image> [options] [-- command...]: create a sandbox, run one command attached to this
// terminal, and exit with its status. Unnamed sandboxes are removed afterwards.
import { defineCommand } from "citty";
import { UsageError } from "../errors.ts";
import { runInSandbox } from "../sandbox/run.ts";
import { openStore } from "../store/store.ts";
import { isQuiet, print, warn } from "../ui/output.ts";
import { createPullProgress } from "../ui/pull-progress.ts";
import { execArgs, ttyChoice } from "./_exec-args.ts";
import { reportExit } from "./_exec-result.ts";
import { sandboxArgs, sandboxOptionsInput, splitGuestCommand } from "./_sandbox-args.ts";

const args = {
  image: { type: "positional", required: false, description: "Image reference, e.g. alpine:3.20" },
  ...sandboxArgs,
  detach: { type: "boolean", alias: "d", description: "Run in the background and print the name" },
  ...execArgs,
} as const;

export default defineCommand({
  meta: { name: "run", description: "Run a command in a new sandbox" },
  args,
  async run({ args: parsed, rawArgs }) {
    const { positionals } = splitGuestCommand(args, rawArgs);
    const image = positionals[0];
    if (image === undefined)
      throw new UsageError("no image given", "usage: msb run <image> [options] [-- command...]");
    if (positionals.length > 1) {
      throw new UsageError(
        `unexpected argument '${positionals[1]}' after the image`,
        "put the command after --, e.g. msb run alpine -- echo hi",
      );
    }
    const input = sandboxOptionsInput(args, rawArgs);
    const store = openStore();
    const progress = createPullProgress({ quiet: isQuiet() });
    try {
      const outcome = await runInSandbox(store, {
        image,
        input: { ...input, ephemeral: input.name === undefined && !parsed.detach },
        replace: Boolean(parsed.replace),
        detach: Boolean(parsed.detach),
        tty: ttyChoice(parsed),
        timeout: parsed.timeout,
        pullEvents: progress,
      });
      progress.stop();
      if (outcome.reused)
        warn(`sandbox ${outcome.name} exists; its creation flags are ignored (use --replace)`);
      if (parsed.detach) {
        print(outcome.name);
        return 0;
      }
      return outcome.exited ? reportExit(outcome.exited) : 0;
    } finally {
      progress.stop();
      store.close();
    }
  },
});
