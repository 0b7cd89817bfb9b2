// Install names: the default an image's command gives, the repository fallback, and which
// names a shim may have.
import { describe, expect, test } from "bun:test";
import {
  defaultInstallName,
  isValidInstallName,
  persistentSandboxName,
  repositoryName,
} from "../../src/install/install-name.ts";

describe("defaultInstallName", () => {
  test.each([
    ["docker.io/library/python:3.12", ["python3"], "python"],
    ["docker.io/library/python:3.12", ["/usr/local/bin/python3.12"], "python"],
    ["docker.io/library/node:22", ["docker-entrypoint.sh", "node"], "node"],
    ["docker.io/library/ruby:3", ["irb"], "irb"],
    ["docker.io/library/python:3.12", ["pip3", "install"], "pip3"],
    ["ghcr.io/acme/tool:1", ["/usr/bin/tini", "--", "/app/server"], "server"],
    ["ghcr.io/acme/tool:1", ["/app/tool2"], "tool"],
    ["docker.io/library/alpine:3.20", ["/bin/sh"], "alpine"],
    ["127.0.0.1:5000/test/busybox-plain:latest", ["/bin/sh"], "busybox-plain"],
    ["docker.io/library/busybox:1", ["/bin/sh", "-c", 'echo "hi there"'], "busybox"],
    ["reg.example/team/app@sha256:abcd", ["bash", "-lc", "run"], "app"],
  ])("%s running %j is %s", (reference, argv, expected) => {
    expect(defaultInstallName(reference, argv)).toBe(expected);
  });
});

describe("repositoryName", () => {
  test.each([
    ["docker.io/library/python:3.12", "python"],
    ["127.0.0.1:5000/test/busybox-plain:latest", "busybox-plain"],
    ["reg.example/app@sha256:abcd", "app"],
    ["alpine", "alpine"],
  ])("%s is %s", (reference, expected) => {
    expect(repositoryName(reference)).toBe(expected);
  });
});

describe("install names", () => {
  test.each([
    ["python", true],
    ["pip3.12", true],
    ["my_tool-2", true],
    ["-rf", false],
    [".hidden", false],
    ["a/b", false],
    ["..", false],
    ["", false],
    ["x".repeat(51), true],
    ["x".repeat(52), false],
  ])("%s valid: %s", (name, valid) => {
    expect(isValidInstallName(name)).toBe(valid);
  });

  test("the persistent sandbox of the longest name is still a valid sandbox name", () => {
    expect(persistentSandboxName("x".repeat(51)).length).toBe(63);
  });
});
