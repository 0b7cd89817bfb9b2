import { describe, expect, test } from "bun:test";
import { UsageError } from "../../src/errors.ts";
import {
  formatPlatform,
  hostPlatform,
  normalizePlatform,
  type Platform,
  parsePlatform,
  platformMatchRank,
  selectPlatform,
} from "../../src/image/platform.ts";

const p = (text: string): Platform => {
  const [os = "", architecture = "", variant] = text.split("/");
  return variant ? { os, architecture, variant } : { os, architecture };
};

describe("hostPlatform", () => {
  test.each([
    ["x64", "linux/amd64"],
    ["arm64", "linux/arm64/v8"],
    ["arm", "linux/arm/v7"],
    ["ia32", "linux/386"],
    ["riscv64", "linux/riscv64"],
  ])("process.arch %p → %p", (arch, expected) => {
    expect(formatPlatform(hostPlatform(arch, "linux"))).toBe(expected);
  });

  test("defaults to this process", () => {
    expect(hostPlatform().os).toBe(process.platform);
  });
});

describe("parsePlatform", () => {
  test.each([
    ["linux/amd64", "linux/amd64"],
    ["linux/arm64", "linux/arm64/v8"],
    ["linux/arm64/v8", "linux/arm64/v8"],
    ["linux/arm64/8", "linux/arm64/v8"],
    ["linux/aarch64", "linux/arm64/v8"],
    ["Linux/X86_64", "linux/amd64"],
    ["linux/amd64/v1", "linux/amd64"],
    ["linux/amd64/v3", "linux/amd64/v3"],
    ["linux/arm", "linux/arm/v7"],
    ["linux/armhf", "linux/arm/v7"],
    ["linux/arm/v6", "linux/arm/v6"],
    ["linux/s390x", "linux/s390x"],
  ])("%p → %p", (input, expected) => {
    expect(formatPlatform(parsePlatform(input))).toBe(expected);
  });

  test.each(["", "linux", "linux/", "/amd64", "linux/amd64/v8/x", "linux/amd 64", "linux//v8"])(
    "%p is rejected",
    (input) => {
      expect(() => parsePlatform(input)).toThrow(UsageError);
      expect(() => parsePlatform(input)).toThrow(`invalid platform "${input}": expected os/arch`);
    },
  );
});

describe("platformMatchRank", () => {
  test.each([
    ["linux/amd64", "linux/amd64", 0],
    ["linux/amd64", "linux/amd64/v1", 0],
    ["linux/amd64", "linux/amd64/v2", undefined],
    ["linux/amd64/v3", "linux/amd64/v2", 1],
    ["linux/amd64/v3", "linux/amd64", 2],
    ["linux/arm64/v8", "linux/arm64", 0],
    ["linux/arm64", "linux/arm64/v8", 0],
    ["linux/arm64/v8", "linux/arm64/v9", undefined],
    ["linux/arm/v7", "linux/arm/v6", 1],
    ["linux/arm/v7", "linux/arm/v5", 2],
    ["linux/arm/v6", "linux/arm/v7", undefined],
    ["linux/amd64", "linux/arm64", undefined],
    ["linux/amd64", "windows/amd64", undefined],
    ["linux/riscv64", "linux/riscv64", 0],
    ["linux/amd64", "unknown/unknown", undefined],
  ])("wanted %p, candidate %p → %p", (wanted, candidate, rank) => {
    expect(platformMatchRank(p(wanted), p(candidate))).toBe(rank as number | undefined);
  });
});

describe("selectPlatform", () => {
  const index = (...platforms: string[]) => platforms.map((text, i) => ({ id: i, platform: p(text) }));
  test.each([
    [["linux/amd64", "linux/arm64/v8"], "linux/amd64", 0],
    [["linux/amd64", "linux/arm64/v8"], "linux/arm64/v8", 1],
    [["linux/amd64", "linux/arm64"], "linux/arm64/v8", 1],
    [["linux/arm/v5", "linux/arm/v6", "linux/arm/v7"], "linux/arm/v7", 2],
    [["linux/arm/v5", "linux/arm/v6"], "linux/arm/v7", 1],
    [["linux/amd64/v3", "linux/amd64"], "linux/amd64", 1],
    [["unknown/unknown", "linux/amd64"], "linux/amd64", 1],
    [["linux/amd64", "linux/amd64"], "linux/amd64", 0],
    [["linux/arm64/v8", "linux/s390x"], "linux/amd64", undefined],
  ])("in %p, %p picks entry %p", (platforms, wanted, expected) => {
    expect(selectPlatform(index(...platforms), p(wanted))?.id).toBe(expected as number | undefined);
  });

  test("skips entries without a platform", () => {
    expect(selectPlatform([{ id: 0 }, { id: 1, platform: p("linux/amd64") }], p("linux/amd64"))?.id).toBe(1);
  });
});

test("normalizePlatform keeps unknown variants of unordered architectures", () => {
  expect(normalizePlatform({ os: "linux", architecture: "mips64", variant: "R6" })).toEqual({
    os: "linux",
    architecture: "mips64",
    variant: "r6",
  });
});
