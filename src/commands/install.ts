// msb install [--name N] [--persist] [run options] <image> [-- command...]: write a shim into
// $MSB_HOME/bin that runs the image's command (or the given one) in a sandbox with the
// caller's arguments and stdio. `msb install --list` lists the shims msb wrote.
import { defineCommand } from "citty";
import { UsageError } from "../errors.ts";
import { installShim, listInstalls } from "../install/install.ts";
import type { InstallConfig } from "../install/shim-file.ts";
import { openStore } from "../store/store.ts";
import { renderTable } from "../ui/format.ts";
import { info, isQuiet, print, printJson, success, warn } from "../ui/output.ts";
import { createPullProgress } from "../ui/pull-progress.ts";
import { sandboxArgs, sandboxOptionsInput, splitGuestCommand } from "./_sandbox-args.ts";
import { formatArgs } from "./_shared.ts";

const { name: _sandboxName, replace: _replace, ...runFlags } = sandboxArgs;

const args = {
  image: { type: "positional", required: false, description: "Image reference, e.g. python:3.12" },
  name: {
    type: "string",
    alias: "n",
    description: "Command name (default: the image's program, e.g. python)",
  },
  persist: {
    type: "boolean",
    description: "Keep one sandbox (msb-install-NAME) and reuse it between calls",
  },
  writable: {
    type: "boolean",
    description: "Mount the working and script directories read-write (default: read-only)",
  },
  force: {
    type: "boolean",
    alias: "f",
    description: "Replace an installed shim of that name, or shadow a command on PATH",
  },
  list: { type: "boolean", alias: "l", description: "List installed commands" },
  ...formatArgs,
  ...runFlags,
} as const;

export default defineCommand({
  meta: { name: "install", description: "Install a sandboxed command into $MSB_HOME/bin" },
  args,
  async run({ args: parsed, rawArgs }) {
    const store = openStore();
    try {
      if (parsed.list) {
        renderList(listInstalls(store), parsed.format === "json");
        return 0;
      }
      const { positionals } = splitGuestCommand(args, rawArgs);
      const image = positionals[0];
      if (image === undefined) {
        throw new UsageError("no image given", "usage: msb install [--name N] <image> [-- command...]");
      }
      if (positionals.length > 1) {
        throw new UsageError(
          `unexpected argument '${positionals[1]}' after the image`,
          "put the command after --, e.g. msb install python:3.12 -- pip",
        );
      }
      const progress = createPullProgress({ quiet: isQuiet() });
      try {
        const installed = await installShim(store, {
          image,
          ...(parsed.name === undefined ? {} : { name: parsed.name }),
          input: sandboxOptionsInput(args, rawArgs),
          persist: Boolean(parsed.persist),
          writable: Boolean(parsed.writable),
          force: Boolean(parsed.force),
          searchPath: process.env.PATH ?? "",
          pullEvents: progress,
        });
        progress.stop();
        if (installed.shadows !== undefined) warn(`${installed.config.name} shadows ${installed.shadows}`);
        success(installed.replaced ? "Reinstalled" : "Installed", installed.path);
        if (!onPath(store.paths.bin))
          info(`add ${store.paths.bin} to PATH to run '${installed.config.name}'`);
        return 0;
      } finally {
        progress.stop();
      }
    } finally {
      store.close();
    }
  },
});

function renderList(installs: InstallConfig[], json: boolean): void {
  if (json) {
    printJson(
      installs.map((install) => ({
        name: install.name,
        image: install.image,
        mode: mode(install),
        command: install.command,
        writable: install.writable,
      })),
    );
    return;
  }
  if (installs.length === 0) {
    info("No installed commands.");
    return;
  }
  const rows = installs.map((install) => [
    install.name,
    install.image,
    mode(install),
    install.command.join(" "),
  ]);
  print(renderTable(["NAME", "IMAGE", "MODE", "COMMAND"], rows));
}

function mode(install: InstallConfig): string {
  return install.persist ? "persist" : "ephemeral";
}

function onPath(dir: string): boolean {
  return (process.env.PATH ?? "").split(":").includes(dir);
}
