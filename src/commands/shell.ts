// msb shell <name> [-- script...]: an interactive shell in a running sandbox, or, with stdin not
// a terminal, the script read from stdin (or given after --) run by that shell.
import { defineCommand } from "citty";
import { UsageError } from "../errors.ts";
import { execInSandbox } from "../sandbox/exec.ts";
import { requireSandbox } from "../sandbox/lifecycle.ts";
import { parseShell, parseUser } from "../sandbox/parse-flags.ts";
import { openStore } from "../store/store.ts";
import { readAllStdin } from "../ui/prompt.ts";
import { reportExit } from "./_exec-result.ts";
import { splitGuestCommand } from "./_sandbox-args.ts";
import { quietArgs } from "./_shared.ts";

const MAX_SCRIPT_BYTES = 1 << 20;

const args = {
  name: { type: "positional", required: false, description: "Sandbox name" },
  shell: { type: "string", valueHint: "path", description: "Shell to run (default: the sandbox's)" },
  user: { type: "string", alias: "u", valueHint: "user[:group]", description: "User to run as" },
  ...quietArgs,
} as const;

export default defineCommand({
  meta: { name: "shell", description: "Open a shell in a running sandbox" },
  args,
  async run({ args: parsed, rawArgs }) {
    const { positionals, command } = splitGuestCommand(args, rawArgs);
    const name = positionals[0];
    if (name === undefined) throw new UsageError("no sandbox given", "usage: msb shell <name>");
    const store = openStore();
    try {
      const shell =
        parsed.shell === undefined
          ? (await requireSandbox(store, name)).spec.shell
          : parseShell(parsed.shell);
      const interactive = command.length === 0 && Boolean(process.stdin.isTTY && process.stdout.isTTY);
      let argv = [shell];
      if (command.length > 0) argv = [shell, "-c", command.join(" ")];
      else if (!interactive) argv = [shell, "-c", await readScript()];
      const result = await execInSandbox(
        store,
        name,
        {
          argv,
          env: [],
          tty: interactive,
          ...(parsed.user === undefined ? {} : { user: parseUser(parsed.user) }),
        },
        {
          stdin: interactive ? process.stdin : null,
          stdout: process.stdout,
          stderr: process.stderr,
          tty: interactive,
        },
      );
      return reportExit(result);
    } finally {
      store.close();
    }
  },
});

async function readScript(): Promise<string> {
  const script = await readAllStdin();
  if (Buffer.byteLength(script) > MAX_SCRIPT_BYTES) {
    throw new UsageError("the script on stdin is larger than 1 MiB", "copy it in with --script and run that");
  }
  return script;
}
