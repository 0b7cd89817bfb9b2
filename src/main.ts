// Entry point of the one msb binary. Every role (CLI now; supervisor, vmm and agent as hidden
// subcommands later) starts here; this file owns the top-level error handler and exit codes.
import { runCli } from "./cli.ts";
import { renderError } from "./ui/render-error.ts";

const argv = process.argv.slice(2);

try {
  const code = await runCli(argv);
  process.exitCode = code;
} catch (error) {
  const { text, exitCode } = renderError(error, argv.includes("--debug"));
  process.stderr.write(text);
  process.exitCode = exitCode;
}
