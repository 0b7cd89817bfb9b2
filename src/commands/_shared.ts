// Flag groups several commands share, and the checks every command gets (unknown flags are a
// usage error, not silently ignored).
import { parseArgs } from "node:util";
import type { ArgsDef, CommandDef } from "citty";
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
  const definitions = ((typeof command.args === "function" ? await command.args() : await command.args) ??
    {}) as ArgsDef;
  const { options, spellings } = optionTable(definitions);
  // Parsed the way citty parses, so an option's value that starts with "-" is not taken for a flag.
  const { tokens } = parseArgs({
    args: rawArgs,
    options,
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  for (const token of tokens) {
    if (token.kind === "option-terminator") break;
    if (token.kind !== "option" || spellings.has(token.name) || GLOBAL_FLAGS.has(token.name)) continue;
    const negated = token.name.startsWith("no-") ? spellings.get(token.name.slice(3)) : undefined;
    if (negated !== undefined && definitions[negated]?.type === "boolean") continue;
    throw new UsageError(
      `unknown option ${token.rawName} for 'msb ${path.join(" ")}'`,
      `run 'msb ${path.join(" ")} --help'`,
    );
  }
}

const GLOBAL_FLAGS = new Set(["help", "h", "debug"]);

type OptionTable = NonNullable<Parameters<typeof parseArgs>[0]>["options"] & object;

/** The util.parseArgs options citty builds: every spelling is a long option, one-letter aliases shorts. */
export function optionTable(definition: ArgsDef): { options: OptionTable; spellings: Map<string, string> } {
  const options: OptionTable = {};
  const spellings = new Map<string, string>();
  for (const [key, arg] of Object.entries(definition)) {
    if (arg.type === "positional") continue;
    const type = arg.type === "boolean" ? "boolean" : "string";
    const aliases = "alias" in arg && arg.alias !== undefined ? [arg.alias].flat() : [];
    for (const spelling of new Set([key, camelCase(key), kebabCase(key), ...aliases])) {
      options[spelling] = { type };
      spellings.set(spelling, key);
    }
    const short = aliases.find((alias) => alias.length === 1);
    if (short !== undefined) options[key] = { type, short };
  }
  return { options, spellings };
}

function camelCase(name: string): string {
  return name.replace(/[-_]+([a-zA-Z0-9])/g, (_, letter: string) => letter.toUpperCase());
}

function kebabCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();
}
