// msb run-installed <name> -- [args...] (internal): what an installed shim execs. Runs the
// install's command with these arguments, attached to this process's stdio, and exits with
// the guest command's status.
import { defineCommand } from "citty";
import { UsageError } from "../errors.ts";
import { runInstalled } from "../install/run-installed.ts";
import { openStore } from "../store/store.ts";
import { isQuiet } from "../ui/output.ts";
import { createPullProgress } from "../ui/pull-progress.ts";
import { ttyChoice } from "./_exec-args.ts";
import { reportExit } from "./_exec-result.ts";
import { splitGuestCommand } from "./_sandbox-args.ts";

const args = {
  name: { type: "positional", required: false, description: "Installed command name" },
} as const;

export default defineCommand({
  meta: { name: "run-installed", description: "Run an installed command (internal)" },
  args,
  async run({ rawArgs }) {
    const { positionals, command } = splitGuestCommand(args, rawArgs);
    const name = positionals[0];
    if (name === undefined)
      throw new UsageError("no installed command given", "usage: msb run-installed <name> -- [args...]");
    const tty = ttyChoice({});
    const store = openStore();
    const progress = createPullProgress({ quiet: isQuiet() });
    try {
      const result = await runInstalled(store, {
        name,
        args: [...positionals.slice(1), ...command],
        cwd: process.cwd(),
        tty,
        io: { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, tty },
        pullEvents: progress,
      });
      return reportExit(result);
    } finally {
      progress.stop();
      store.close();
    }
  },
});
