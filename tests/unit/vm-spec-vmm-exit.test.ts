// What a VMM's exit means for the supervisor: the guest's status, or a VMM/init failure.
import { describe, expect, test } from "bun:test";
import { describeVmmExit, VMM_START_FAILED } from "../../src/vmm/vmm-exit.ts";

describe("describeVmmExit", () => {
  test.each<[string, number | null, string | null, boolean, string]>([
    ["the guest's status", 0, null, false, "the guest ended with status 0"],
    ["a non-zero guest status", 3, null, false, "the guest ended with status 3"],
    ["msb vmm could not start the VM", VMM_START_FAILED, null, true, "could not start the VM"],
    ["init could not execute the agent", 126, null, true, "could not execute the agent (status 126)"],
    ["init did not find the agent", 127, null, true, "did not find the agent /msb (status 127)"],
    ["a libkrun panic (SIGABRT)", null, "SIGABRT", true, "the VMM aborted"],
    ["an abort reported as 134", 134, null, true, "the VMM aborted"],
    ["killed", null, "SIGKILL", true, "the VMM was killed by SIGKILL"],
    ["no status at all", null, null, true, "without an exit status"],
  ])("libkrun: %s", (_, code, signal, failure, text) => {
    const exit = describeVmmExit(code, signal);
    expect(exit.failure).toBe(failure);
    expect(exit.description).toContain(text);
  });

  test.each<[number | null, string | null, boolean, string]>([
    [0, null, false, "the guest powered off"],
    [1, null, true, "qemu-system failed (status 1)"],
    [125, null, true, "qemu-system failed (status 125)"],
    [null, "SIGTERM", true, "qemu-system was killed by SIGTERM"],
  ])("qemu: status %p signal %p", (code, signal, failure, text) => {
    expect(describeVmmExit(code, signal, "qemu")).toEqual({
      failure,
      description: expect.stringContaining(text),
    });
  });
});
