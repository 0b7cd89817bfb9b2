// msb volume <create|ls|inspect|rm>: named volumes under one name.
import { defineCommand } from "citty";

export default defineCommand({
  meta: { name: "volume", description: "Manage named volumes" },
  subCommands: {
    create: () => import("./volume-create.ts").then((module) => module.default),
    ls: () => import("./volume-ls.ts").then((module) => module.default),
    inspect: () => import("./volume-inspect.ts").then((module) => module.default),
    rm: () => import("./volume-rm.ts").then((module) => module.default),
  },
});
