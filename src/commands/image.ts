// msb image <ls|inspect|pull|rm>: the image commands under one name.
import { defineCommand } from "citty";

export default defineCommand({
  meta: { name: "image", description: "Manage images" },
  subCommands: {
    ls: () => import("./images.ts").then((module) => module.default),
    inspect: () => import("./image-inspect.ts").then((module) => module.default),
    pull: () => import("./pull.ts").then((module) => module.default),
    rm: () => import("./rmi.ts").then((module) => module.default),
  },
});
