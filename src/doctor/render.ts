// The doctor report as terminal text: one line per check, the fix indented under each failure or
// warning, then one summary line per backend.
import { colors } from "consola/utils";
import { blockers } from "./doctor.ts";
import type { DoctorCheck, DoctorReport } from "./types.ts";

const LABEL_WIDTH = 20;

export function renderDoctorReport(report: DoctorReport): string {
  const lines: string[] = [];
  for (const check of report.checks) {
    lines.push(`${mark(check)} ${check.label.padEnd(LABEL_WIDTH)}${check.detail}`);
    const showFix = check.fix !== undefined && (!check.ok || check.warning);
    if (showFix) lines.push(`  ${" ".repeat(LABEL_WIDTH)}fix: ${check.fix}`);
  }
  lines.push("", vmSummary(report), namespaceSummary(report));
  return lines.join("\n");
}

function mark(check: DoctorCheck): string {
  // A missing "info" fact (no libkrun, no QEMU) only narrows the VMM choice; the VMM line says.
  if (!check.ok) return check.required === "info" ? colors.yellow("!") : colors.red("✗");
  return check.warning ? colors.yellow("!") : colors.green("✓");
}

function vmSummary(report: DoctorReport): string {
  if (report.vmReady) {
    const vmm = report.vmm;
    const how =
      vmm === null
        ? ""
        : vmm.vmm === "libkrun"
          ? " (libkrun)"
          : ` (QEMU, ${vmm.accel === "kvm" ? "KVM" : "TCG: slow"})`;
    return `${colors.green("✓")} VM sandboxes can run here${how}.`;
  }
  const missing = blockers(report.checks, "vm").map((check) => check.label);
  return `${colors.red("✗")} VM sandboxes cannot run here (needs ${missing.join(", ")}).`;
}

function namespaceSummary(report: DoctorReport): string {
  if (report.namespaceReady) {
    return `${colors.green("✓")} The namespace backend can run here (--isolation namespace).`;
  }
  const missing = blockers(report.checks, "namespace").map((check) => check.label);
  return `${colors.red("✗")} The namespace backend (--isolation namespace) cannot run here (needs ${missing.join(", ")}).`;
}
