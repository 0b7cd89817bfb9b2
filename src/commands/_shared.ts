// Flag groups several commands share, and the checks every command gets (unknown flags are a
// usage error, not silently ignored).
import type { ArgDef, ArgsDef, CommandDef } from "citty";
import { UsageError } from "../errors.ts";

export const quietArgs = {
  quiet: { type: "boolean", alias: "q", description: "Only print results and errors" },
} as const satisfies ArgsDef;

export const formatArgs = {
  format: { type: "enum", options: ["table", "json"], default: "table", description: "Output format" },
} as const satisfies ArgsDef;

export const pullArgs = {
  platform: { type: "string", description: "Platform to pull, e.g. linux/arm64 (default: this host)" },
  insecure: {
    type: "boolean",
    description: "Talk plain HTTP to this registry (loopback registries always do)",
  },
} as const satisfies ArgsDef;

/** Collected values of a repeatable positional (citty puts the extras in `_`). */
export function positionals(args: { _: string[] }): string[] {
  return args._.filter((value) => value !== "");
}

export async function rejectUnknownFlags(
  // biome-ignore lint/suspicious/noExplicitAny: accepts every command whatever its args.
  command: CommandDef<any>,
  rawArgs: string[],
  path: string[],
): Promise<void> {
  const definitions = (typeof command.args === "function" ? await command.args() : await command.args) ?? {};
  const known = new Set<string>(["help", "h", "debug"]);
  for (const [name, definition] of Object.entries(definitions as Record<string, ArgDef>)) {
    if (definition.type === "positional") continue;
    known.add(name);
    known.add(kebab(name));
    if (definition.type === "boolean") known.add(`no-${kebab(name)}`);
    const alias = "alias" in definition ? definition.alias : undefined;
    const aliases = alias === undefined ? [] : [alias].flat();
    for (const alias of aliases) known.add(alias);
  }
  for (const arg of rawArgs) {
    if (arg === "--") break;
    if (!arg.startsWith("-") || arg === "-") continue;
    const names = arg.startsWith("--")
      ? [arg.slice(2).split("=")[0] ?? ""]
      : [...arg.slice(1).split("=")[0]!];
    for (const name of names) {
      if (!known.has(name)) {
        const shown = arg.startsWith("--") ? `--${name}` : `-${name}`;
        throw new UsageError(
          `unknown option ${shown} for 'msb ${path.join(" ")}'`,
          `run 'msb ${path.join(" ")} --help'`,
        );
      }
    }
  }
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}
