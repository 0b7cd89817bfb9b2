// The CLI role: global flags, the grouped top-level help, and the lazy command map. A command
// module is imported only when it runs, so `msb --version` stays fast.
import { type CommandDef, renderUsage, runCommand } from "citty";
import { colors } from "consola/utils";
import pkg from "../package.json" with { type: "json" };
import { rejectUnknownFlags } from "./commands/_shared.ts";
import { ExitCode, UsageError } from "./errors.ts";
import { configureOutput, print, printHelp } from "./ui/output.ts";

// biome-ignore lint/suspicious/noExplicitAny: citty's CommandDef is invariant in its args type.
type AnyCommand = CommandDef<any>;

interface CommandEntry {
  group: "Sandboxes" | "Images" | "Volumes" | "Registries" | "Install" | "System";
  description: string;
  aliases?: string[];
  hidden?: boolean;
  load: () => Promise<{ default: AnyCommand }>;
}

const COMMANDS: Record<string, CommandEntry> = {
  run: {
    group: "Sandboxes",
    description: "Run a command in a new sandbox",
    load: () => import("./commands/run.ts"),
  },
  create: {
    group: "Sandboxes",
    description: "Create a sandbox and start it in the background",
    load: () => import("./commands/create.ts"),
  },
  start: {
    group: "Sandboxes",
    description: "Start stopped sandboxes",
    load: () => import("./commands/start.ts"),
  },
  stop: {
    group: "Sandboxes",
    description: "Stop running sandboxes",
    load: () => import("./commands/stop.ts"),
  },
  rm: { group: "Sandboxes", description: "Remove sandboxes", load: () => import("./commands/rm.ts") },
  ls: { group: "Sandboxes", description: "List sandboxes", load: () => import("./commands/ls.ts") },
  ps: {
    group: "Sandboxes",
    description: "Show running sandboxes",
    aliases: ["status"],
    load: () => import("./commands/ps.ts"),
  },
  inspect: {
    group: "Sandboxes",
    description: "Show a sandbox's configuration and state",
    load: () => import("./commands/inspect.ts"),
  },
  metrics: {
    group: "Sandboxes",
    description: "Show live CPU, memory, disk and network use of running sandboxes",
    load: () => import("./commands/metrics.ts"),
  },
  exec: {
    group: "Sandboxes",
    description: "Run a command in a running sandbox",
    load: () => import("./commands/exec.ts"),
  },
  shell: {
    group: "Sandboxes",
    description: "Open a shell in a running sandbox",
    load: () => import("./commands/shell.ts"),
  },
  pull: {
    group: "Images",
    description: "Pull an image from a registry",
    load: () => import("./commands/pull.ts"),
  },
  load: {
    group: "Images",
    description: "Load images from a docker-save or OCI layout archive",
    load: () => import("./commands/load.ts"),
  },
  images: { group: "Images", description: "List images", load: () => import("./commands/images.ts") },
  image: {
    group: "Images",
    description: "Manage images (ls, inspect, pull, rm)",
    load: () => import("./commands/image.ts"),
  },
  rmi: { group: "Images", description: "Remove images", load: () => import("./commands/rmi.ts") },
  volume: {
    group: "Volumes",
    description: "Manage named volumes (create, ls, inspect, rm)",
    load: () => import("./commands/volume.ts"),
  },
  registry: {
    group: "Registries",
    description: "Manage registry credentials (login, logout, ls)",
    load: () => import("./commands/registry.ts"),
  },
  install: {
    group: "Install",
    description: "Install a sandboxed command into $MSB_HOME/bin (--list)",
    load: () => import("./commands/install.ts"),
  },
  uninstall: {
    group: "Install",
    description: "Remove installed commands",
    load: () => import("./commands/uninstall.ts"),
  },
  "run-installed": {
    group: "Install",
    description: "Run an installed command (internal, called by its shim)",
    hidden: true,
    load: () => import("./commands/run-installed.ts"),
  },
  supervisor: {
    group: "System",
    description: "Supervise one running sandbox (internal)",
    hidden: true,
    load: () => import("./commands/supervisor.ts"),
  },
  agent: {
    group: "System",
    description: "Run as a sandbox's init and agent (internal)",
    hidden: true,
    load: () => import("./commands/agent.ts"),
  },
  vmm: {
    group: "System",
    description: "Host a sandbox's VM with libkrun (internal)",
    hidden: true,
    load: () => import("./commands/vmm.ts"),
  },
  doctor: {
    group: "System",
    description: "Check what this host needs to run sandboxes",
    load: () => import("./commands/doctor.ts"),
  },
};

const GROUP_ORDER: CommandEntry["group"][] = [
  "Sandboxes",
  "Images",
  "Volumes",
  "Registries",
  "Install",
  "System",
];

export const VERSION: string = pkg.version;

function findCommand(name: string): [string, CommandEntry] | undefined {
  for (const [commandName, entry] of Object.entries(COMMANDS)) {
    if (commandName === name || entry.aliases?.includes(name)) return [commandName, entry];
  }
  return undefined;
}

export function renderTopLevelHelp(): string {
  const lines = [
    `${colors.bold("msb")} ${VERSION} — hardware-isolated microVM sandboxes from OCI images`,
    "",
    `${colors.bold("Usage:")} msb [--debug] [-q|--quiet] <command> [options]`,
  ];
  for (const group of GROUP_ORDER) {
    const entries = Object.entries(COMMANDS).filter(([, entry]) => entry.group === group && !entry.hidden);
    if (entries.length === 0) continue;
    lines.push("", colors.bold(`${group}:`));
    for (const [name, entry] of entries) lines.push(`  ${name.padEnd(12)}${entry.description}`);
  }
  lines.push(
    "",
    colors.bold("Global options:"),
    "  --debug     Verbose logs and stack traces on errors",
    "  -q, --quiet Only print results and errors",
    "  -V, --version",
    "  -h, --help",
    "",
    "Run 'msb <command> --help' for the options of a command. State lives in $MSB_HOME (default ~/.microsandbox).",
  );
  return lines.join("\n");
}

/** Runs one CLI invocation and returns its exit status. */
export async function runCli(argv: string[]): Promise<number> {
  const args = [...argv];
  const debug = takeFlag(args, ["--debug"]);
  const [first] = args;
  configureOutput({ debug, quiet: beforeDashDash(args).some((arg) => arg === "--quiet" || arg === "-q") });

  if (first === "--version" || first === "-V" || first === "version") {
    print(`msb ${VERSION}`);
    return ExitCode.ok;
  }
  if (first === undefined || first === "--help" || first === "-h" || first === "help") {
    print(renderTopLevelHelp());
    return ExitCode.ok;
  }
  if (first.startsWith("-")) throw new UsageError(`unknown global option ${first}`, "run 'msb --help'");

  const found = findCommand(first);
  if (!found) throw new UsageError(`unknown command '${first}'`, "run 'msb --help' to list the commands");
  const [name, entry] = found;
  const command = (await entry.load()).default;
  return runResolved(command, [name], args.slice(1));
}

async function runResolved(command: AnyCommand, path: string[], rawArgs: string[]): Promise<number> {
  const subCommands = await resolveValue(command.subCommands);
  const [next] = rawArgs;
  if (subCommands && next !== undefined && !next.startsWith("-")) {
    const sub = await findSubCommand(subCommands, next);
    if (!sub) {
      throw new UsageError(
        `unknown command 'msb ${path.join(" ")} ${next}'`,
        `run 'msb ${path.join(" ")} --help'`,
      );
    }
    return runResolved(sub.command, [...path, sub.name], rawArgs.slice(1));
  }
  const helpIndex = rawArgs.findIndex((arg) => arg === "--help" || arg === "-h");
  const dashDash = rawArgs.indexOf("--");
  if (helpIndex >= 0 && (dashDash < 0 || helpIndex < dashDash)) {
    printHelp(await renderUsage(withCommandName(command, path)));
    return ExitCode.ok;
  }
  if (!command.run) {
    throw new UsageError(`'msb ${path.join(" ")}' needs a subcommand`, `run 'msb ${path.join(" ")} --help'`);
  }
  await rejectUnknownFlags(command, rawArgs, path);
  try {
    const { result } = await runCommand(command, { rawArgs });
    return typeof result === "number" ? result : ExitCode.ok;
  } catch (error) {
    if (error instanceof Error && error.name === "CLIError") {
      throw new UsageError(`${error.message} (msb ${path.join(" ")})`, `run 'msb ${path.join(" ")} --help'`);
    }
    throw error;
  }
}

async function findSubCommand(
  subCommands: Record<string, unknown>,
  name: string,
): Promise<{ name: string; command: AnyCommand } | undefined> {
  for (const [key, value] of Object.entries(subCommands)) {
    const command = (await resolveValue(value)) as AnyCommand;
    const meta = await resolveValue(command.meta);
    const aliases = meta?.alias === undefined ? [] : Array.isArray(meta.alias) ? meta.alias : [meta.alias];
    if (key === name || aliases.includes(name)) return { name: key, command };
  }
  return undefined;
}

function withCommandName(command: AnyCommand, path: string[]): AnyCommand {
  return {
    ...command,
    meta: async () => ({ ...(await resolveValue(command.meta)), name: `msb ${path.join(" ")}` }),
  };
}

async function resolveValue<T>(value: T | Promise<T> | (() => T | Promise<T>)): Promise<T> {
  return typeof value === "function" ? await (value as () => T | Promise<T>)() : await value;
}

/** The arguments that belong to msb: a command's own `-q` after `--` is not msb's quiet flag. */
function beforeDashDash(args: string[]): string[] {
  const dashDash = args.indexOf("--");
  return dashDash < 0 ? args : args.slice(0, dashDash);
}

function takeFlag(args: string[], names: string[]): boolean {
  const dashDash = args.indexOf("--");
  let found = false;
  for (let index = args.length - 1; index >= 0; index--) {
    if (dashDash >= 0 && index > dashDash) continue;
    if (names.includes(args[index] ?? "")) {
      args.splice(index, 1);
      found = true;
    }
  }
  return found;
}
