// msb agent <boot.json> (hidden): PID 1 inside a sandbox; assembles the root and serves exec.
// msb agent --vm: the same as PID 1 of a VM guest, which gets its boot config over the channel.
import { defineCommand } from "citty";
import { runAgent, runVmAgent } from "../agent/run-agent.ts";
import { UsageError } from "../errors.ts";

export default defineCommand({
  meta: { name: "agent", description: "Run as the sandbox's init and agent (internal)", hidden: true },
  args: {
    boot: { type: "positional", required: false, description: "Boot config file (namespace backend)" },
    vm: { type: "boolean", description: "Run as PID 1 of a VM guest" },
  },
  run({ args }) {
    if (args.vm) return runVmAgent();
    if (!args.boot)
      throw new UsageError("msb agent needs a boot config file or --vm", "msb agent <boot.json>");
    return runAgent(args.boot);
  },
});
