// msb supervisor <name> (hidden): the per-sandbox supervisor role, spawned by start/run/create.
import { defineCommand } from "citty";
import { runSupervisor } from "../supervisor/run-supervisor.ts";

export default defineCommand({
  meta: { name: "supervisor", description: "Supervise one running sandbox (internal)", hidden: true },
  args: { name: { type: "positional", required: true, description: "Sandbox name" } },
  run({ args }) {
    return runSupervisor(args.name);
  },
});
