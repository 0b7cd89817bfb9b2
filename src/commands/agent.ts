// msb agent <boot.json> (hidden): PID 1 inside a sandbox; assembles the root and serves exec.
import { defineCommand } from "citty";
import { runAgent } from "../agent/run-agent.ts";

export default defineCommand({
  meta: { name: "agent", description: "Run as the sandbox's init and agent (internal)", hidden: true },
  args: { boot: { type: "positional", required: true, description: "Boot config file" } },
  run({ args }) {
    return runAgent(args.boot);
  },
});
