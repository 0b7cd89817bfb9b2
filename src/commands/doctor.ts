// `msb doctor`: checks what this host needs to run sandboxes and says how to fix what is missing.
// The exit status says whether a VM sandbox can run: 0 yes, 1 no (the namespace backend may still
// work; the summary line says so).
import { defineCommand } from "citty";
import { runDoctor } from "../doctor/doctor.ts";
import { renderDoctorReport } from "../doctor/render.ts";
import { ExitCode } from "../errors.ts";
import { msbPaths } from "../paths.ts";
import { print, printJson } from "../ui/output.ts";
import { formatArgs } from "./_shared.ts";

export default defineCommand({
  meta: {
    name: "doctor",
    description:
      "Check what this host needs to run sandboxes (exit status 0 when a VM sandbox can run, else 1)",
  },
  args: { ...formatArgs },
  async run({ args }) {
    const report = await runDoctor(msbPaths());
    if (args.format === "json") printJson(report);
    else print(renderDoctorReport(report));
    return report.vmReady ? ExitCode.ok : ExitCode.failure;
  },
});
