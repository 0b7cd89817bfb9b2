// How secret values reach the supervisor: the CLI that holds them writes one JSON object to the
// supervisor's stdin and closes it, so they never appear in argv, the environment or a file.
// The supervisor keeps what it reads in memory only.
import { MsbError } from "../errors.ts";

export function encodeSecretValues(values: ReadonlyMap<string, string>): string {
  return JSON.stringify(Object.fromEntries(values));
}

/** Reads stdin to its end; an empty stdin (no secrets, or /dev/null) is no values. */
export async function readSecretValues(stdin: ReadableStream<Uint8Array>): Promise<Map<string, string>> {
  const text = await new Response(stdin).text();
  if (text.trim() === "") return new Map();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new MsbError("the secret values on the supervisor's stdin are not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new MsbError("the secret values on the supervisor's stdin are not a JSON object");
  }
  const values = new Map<string, string>();
  for (const [name, value] of Object.entries(parsed)) {
    if (typeof value !== "string") throw new MsbError(`the value of secret ${name} is not a string`);
    values.set(name, value);
  }
  return values;
}

/** The CLI's environment for the supervisor, without the variables secrets may be read from. */
export function supervisorEnv(
  env: Record<string, string | undefined>,
  secretNames: readonly string[],
  msbHome: string,
): Record<string, string | undefined> {
  const copy: Record<string, string | undefined> = { ...env, MSB_HOME: msbHome };
  for (const name of secretNames) delete copy[name];
  return copy;
}
