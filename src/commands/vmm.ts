// msb vmm <vm.json> (hidden): hosts one VM guest with libkrun; spawned by the supervisor. Never
// returns: the process exits with the guest's status (src/vmm/vmm-exit.ts says what each means).
import { defineCommand } from "citty";
import { UsageError } from "../errors.ts";
import { runVmm } from "../vmm/run-vmm.ts";

export default defineCommand({
  meta: { name: "vmm", description: "Host a sandbox's VM with libkrun (internal)", hidden: true },
  args: {
    spec: { type: "positional", required: true, description: "VM spec file (vm.json)" },
    "log-level": { type: "string", description: "libkrun log level, 0 (off) to 5 (trace); default 2" },
  },
  run({ args }) {
    const text = args["log-level"];
    const logLevel = text === undefined ? undefined : Number(text);
    if (logLevel !== undefined && !(Number.isInteger(logLevel) && logLevel >= 0 && logLevel <= 5)) {
      throw new UsageError(`invalid --log-level '${text}': use a whole number from 0 to 5`);
    }
    return runVmm(args.spec, logLevel === undefined ? {} : { logLevel });
  },
});
