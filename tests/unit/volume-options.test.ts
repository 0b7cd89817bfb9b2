// What `msb volume create` accepts: names (sandbox rules, minus the disk image suffix), --size
// (the ext4 minimum, whole KiB) and --opt uid=N,gid=N.
import { describe, expect, test } from "bun:test";
import { UsageError } from "../../src/errors.ts";
import {
  MIN_VOLUME_BYTES,
  parseVolumeOptions,
  parseVolumeSize,
  validateVolumeName,
} from "../../src/volume/volume-options.ts";

const MIB = 1024 * 1024;

describe("validateVolumeName", () => {
  test.each(["data", "a", "cache.v2", "my_vol-1", "x".repeat(63), "db.ext4x"])("accepts %s", (name) => {
    expect(validateVolumeName(name)).toBe(name);
  });

  test.each([
    ["", "invalid volume name ''"],
    ["-x", "invalid volume name '-x'"],
    [".mnt", "invalid volume name '.mnt'"],
    ["a/b", "invalid volume name 'a/b'"],
    ["x".repeat(64), "use 1 to 63"],
    ["db.ext4", "names ending in .ext4 are reserved"],
  ])("refuses %j", (name, message) => {
    expect(() => validateVolumeName(name)).toThrow(UsageError);
    expect(() => validateVolumeName(name)).toThrow(message);
  });
});

describe("parseVolumeSize", () => {
  test.each([
    ["16M", 16 * MIB],
    ["5G", 5 * 1024 * MIB],
    ["1.5G", 1536 * MIB],
    ["64", 64 * MIB],
    ["16385K", 16385 * 1024],
    ["16.0001M", 16 * MIB + 104],
  ])("%s is %d bytes", (value, bytes) => {
    const parsed = parseVolumeSize(value);
    expect(parsed).toBe(bytes - (bytes % 1024));
    expect(parsed % 1024).toBe(0);
  });

  test.each([
    ["15M", "the minimum is 16M"],
    ["16383K", "the minimum is 16M"],
    ["0", "must be greater than zero"],
    ["5X", "invalid --size size '5X'"],
    ["-1G", "invalid --size size '-1G'"],
  ])("refuses %s", (value, message) => {
    expect(() => parseVolumeSize(value)).toThrow(message);
  });

  test("the minimum is what a sandbox disk needs", () => {
    expect(MIN_VOLUME_BYTES).toBe(16 * MIB);
  });
});

describe("parseVolumeOptions", () => {
  test.each<[string[], { uid: number; gid: number } | null]>([
    [[], null],
    [["uid=1000,gid=1000"], { uid: 1000, gid: 1000 }],
    [["uid=0", "gid=5"], { uid: 0, gid: 5 }],
    [["gid=7,uid=8"], { uid: 8, gid: 7 }],
  ])("%j", (values, owner) => {
    expect(parseVolumeOptions(values)).toEqual(owner);
  });

  test.each([
    [["uid=1"], "--opt needs both uid and gid, got only uid"],
    [["gid=1"], "got only gid"],
    [["mode=0700"], "invalid volume option 'mode=0700'"],
    [["uid"], "invalid volume option 'uid'"],
    [["uid=1=2,gid=1"], "invalid volume option 'uid=1=2'"],
    [["uid=-1,gid=1"], "invalid uid '-1'"],
    [["uid=1,gid=x"], "invalid gid 'x'"],
    [["uid=4294967295,gid=1"], "invalid uid '4294967295'"],
  ])("refuses %j", (values, message) => {
    expect(() => parseVolumeOptions(values)).toThrow(message);
  });
});
