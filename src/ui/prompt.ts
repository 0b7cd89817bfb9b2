// Reading secrets from the user: a no-echo prompt on a terminal, or all of stdin.
import { UsageError } from "../errors.ts";

export async function readAllStdin(): Promise<string> {
  return await new Response(Bun.stdin.stream()).text();
}

/** Prompts on stderr and reads one line from the terminal without echoing it. */
export async function promptSecret(label: string): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) {
    throw new UsageError("no terminal to prompt for the password on", "pipe it in with --password-stdin");
  }
  process.stderr.write(label);
  input.setRawMode(true);
  input.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let value = "";
      const onData = (chunk: Buffer) => {
        for (const char of chunk.toString("utf8")) {
          if (char === "\r" || char === "\n") {
            input.off("data", onData);
            process.stderr.write("\n");
            resolve(value);
            return;
          }
          if (char === "\u0003") {
            input.off("data", onData);
            process.stderr.write("\n");
            reject(new UsageError("login cancelled"));
            return;
          }
          value = char === "\u007f" ? value.slice(0, -1) : value + char;
        }
      };
      input.on("data", onData);
    });
  } finally {
    input.setRawMode(false);
    input.pause();
  }
}
