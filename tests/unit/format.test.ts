// Pure formatting used by every table and inspect view.
import { describe, expect, test } from "bun:test";
import { stripVTControlCharacters } from "node:util";
import {
  formatDuration,
  formatSize,
  formatTimestamp,
  renderTable,
  shortDigest,
} from "../../src/ui/format.ts";

describe("formatSize", () => {
  test.each([
    [0, "0 B"],
    [1023, "1023 B"],
    [1024, "1.0 KiB"],
    [1536, "1.5 KiB"],
    [5 * 1024 * 1024, "5.0 MiB"],
    [3 * 1024 ** 3, "3.0 GiB"],
  ])("%d bytes → %s", (bytes, text) => expect(formatSize(bytes)).toBe(text));
});

describe("other formats", () => {
  test("timestamps are UTC without a T", () => {
    expect(formatTimestamp("2026-03-04T05:06:07.891Z")).toBe("2026-03-04 05:06:07");
    expect(formatTimestamp("garbage")).toBe("-");
  });
  test("digests are shortened to 12 hex digits", () => {
    expect(shortDigest(`sha256:${"ab".repeat(32)}`)).toBe("sha256:abababababab");
  });
  test("durations", () => {
    expect(formatDuration(250)).toBe("250ms");
    expect(formatDuration(1500)).toBe("1.5s");
    expect(formatDuration(125_000)).toBe("2m5s");
  });
  test("tables pad every column but the last by four spaces past the widest cell", () => {
    const text = stripVTControlCharacters(
      renderTable(
        ["A", "BB"],
        [
          ["xyz", "1"],
          ["q", "22"],
        ],
      ),
    );
    expect(text.split("\n")).toEqual(["A      BB", "xyz    1", "q      22"]);
  });
});
