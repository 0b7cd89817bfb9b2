// Entry point of the one msb binary. Every role (CLI, and the hidden supervisor and agent
// subcommands) starts here; this file owns the top-level error handler and exit codes.
import { runCli } from "./cli.ts";
import { renderError } from "./ui/render-error.ts";

async function main(argv: string[]): Promise<void> {
  try {
    process.exitCode = await runCli(argv);
  } catch (error) {
    const { text, exitCode } = renderError(error, argv.includes("--debug"));
    process.stderr.write(text);
    process.exitCode = exitCode;
  }
}

void main(process.argv.slice(2));
