// msb exec <name> [-e -w -u -t] -- <command>: run a command in a running sandbox, attached.
import { defineCommand } from "citty";
import { UsageError } from "../errors.ts";
import { execInSandbox } from "../sandbox/exec.ts";
import { parseEnvEntry } from "../sandbox/parse-env.ts";
import { parseUser, parseWorkdir } from "../sandbox/parse-flags.ts";
import { openStore } from "../store/store.ts";
import { execArgs, timeoutMs, ttyChoice } from "./_exec-args.ts";
import { reportExit } from "./_exec-result.ts";
import { repeatable, splitGuestCommand } from "./_sandbox-args.ts";
import { quietArgs } from "./_shared.ts";

const args = {
  name: { type: "positional", required: false, description: "Sandbox name" },
  env: { type: "string", alias: "e", valueHint: "key=value", description: "Set a variable (repeatable)" },
  workdir: { type: "string", alias: "w", valueHint: "path", description: "Working directory" },
  user: { type: "string", alias: "u", valueHint: "user[:group]", description: "User to run as" },
  ...execArgs,
  ...quietArgs,
} as const;

export default defineCommand({
  meta: { name: "exec", description: "Run a command in a running sandbox" },
  args,
  async run({ args: parsed, rawArgs }) {
    const { positionals, command } = splitGuestCommand(args, rawArgs);
    const name = positionals[0];
    if (name === undefined) throw new UsageError("no sandbox given", "usage: msb exec <name> -- <command>");
    const argv = command.length > 0 ? command : positionals.slice(1);
    if (argv.length === 0) throw new UsageError("no command given", `e.g. msb exec ${name} -- ls /`);
    const tty = ttyChoice(parsed);
    const request = {
      argv,
      env: repeatable(args, "env", rawArgs).map((entry) => parseEnvEntry(entry, process.env)),
      tty,
      ...(parsed.workdir === undefined ? {} : { cwd: parseWorkdir(parsed.workdir) }),
      ...(parsed.user === undefined ? {} : { user: parseUser(parsed.user) }),
      ...(parsed.timeout === undefined ? {} : { timeoutMs: timeoutMs(parsed.timeout) }),
    };
    const store = openStore();
    try {
      const result = await execInSandbox(store, name, request, {
        stdin: process.stdin,
        stdout: process.stdout,
        stderr: process.stderr,
        tty,
      });
      return reportExit(result);
    } finally {
      store.close();
    }
  },
});
