// The stream pieces under the secret guard: placeholder spellings (base64 at each alignment),
// the split-aware scanner and replacer, the chunked decoder, and how values reach the
// supervisor (stdin JSON, never the environment).
import { describe, expect, test } from "bun:test";
import { ChunkedDecoder } from "../../src/network/secrets/chunked-decoder.ts";
import { base64Cores, placeholderForms } from "../../src/network/secrets/placeholder-forms.ts";
import { SplitReplacer } from "../../src/network/secrets/split-replacer.ts";
import { SplitScanner } from "../../src/network/secrets/split-scanner.ts";
import { encodeSecretValues, readSecretValues, supervisorEnv } from "../../src/supervisor/secret-delivery.ts";

const PH = "msb_ph_K_00112233445566778899aabbccddeeff";

describe("placeholder forms", () => {
  test.each([0, 1, 2, 3, 4, 5])("base64 with %i bytes before and after still contains a core", (pad) => {
    const text = `${"x".repeat(pad)}${PH}${"y".repeat(pad)}`;
    const encoded = Buffer.from(text, "latin1").toString("base64");
    expect(base64Cores(PH).some((core) => encoded.includes(core))).toBe(true);
  });

  test("raw, both percent cases and URL-safe base64", () => {
    const forms = placeholderForms("K", PH).map((needle) => needle.text);
    expect(forms).toContain(PH);
    expect(forms).toContain(
      `%6D%73%62${[...PH.slice(3)].map((c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`).join("")}`,
    );
    const urlSafe = Buffer.from(`\xfb${PH}`, "latin1").toString("base64url");
    expect(forms.some((form) => urlSafe.includes(form))).toBe(true);
  });
});

describe("SplitScanner", () => {
  test("finds a needle split over three pieces, and nothing in clean text", () => {
    const scanner = new SplitScanner([{ text: PH, secret: "K" }]);
    expect(scanner.feed("aaa msb_ph")).toBeUndefined();
    expect(scanner.feed("_K_0011223344")).toBeUndefined();
    expect(scanner.feed("5566778899aabbccddeeff tail")?.secret).toBe("K");
    expect(new SplitScanner([{ text: PH, secret: "K" }]).feed("msb_ph_K_ nothing")).toBeUndefined();
  });
});

describe("SplitReplacer", () => {
  test.each([
    [["abc SECRET def"], "abc ****** def"],
    [["abc SEC", "RET def"], "abc ****** def"],
    [["S", "E", "C", "R", "E", "T", "S"], "******S"],
    [["SECRE"], "SECRE"],
  ])("%j", (pieces, expected) => {
    const replacer = new SplitReplacer([{ from: "SECRET", to: "******" }]);
    const out = pieces.map((piece) => replacer.push(piece)).join("") + replacer.end();
    expect(out).toBe(expected);
  });

  test("holds back only what could start the needle", () => {
    const replacer = new SplitReplacer([{ from: "SECRET", to: "******" }]);
    expect(replacer.push("hello SEC")).toBe("hello ");
    expect(replacer.push("x")).toBe("SECx");
  });
});

describe("ChunkedDecoder", () => {
  test("decodes across arbitrary pieces and stops at the end of the message", () => {
    const message = "4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
    for (let size = 1; size <= message.length; size++) {
      const decoder = new ChunkedDecoder();
      let data = "";
      let used = 0;
      for (let at = 0; at < message.length && !decoder.done; at += size) {
        const fed = decoder.feed(message.slice(at, at + size));
        data += fed.data;
        used += fed.used;
      }
      expect(data).toBe("Wikipedia");
      expect(message.slice(used)).toBe("NEXT");
      expect(decoder.trailers).toBe("X-Trailer: 1\r\n");
    }
  });

  test.each([["zz\r\n"], ["3\r\nabcd\r\n"]])("%j is an error", (text) => {
    const decoder = new ChunkedDecoder();
    decoder.feed(text);
    expect(decoder.error).not.toBeNull();
  });
});

describe("secret delivery", () => {
  test("values round-trip through the supervisor's stdin", async () => {
    const values = new Map([
      ["A", "one"],
      ["B", 'tw"o é'],
    ]);
    const stream = new Response(encodeSecretValues(values)).body!;
    expect(await readSecretValues(stream)).toEqual(values);
    expect(await readSecretValues(new Response("").body!)).toEqual(new Map());
  });

  test("malformed input is refused", async () => {
    await expect(readSecretValues(new Response("[1]").body!)).rejects.toThrow(/not a JSON object/);
    await expect(readSecretValues(new Response('{"A":1}').body!)).rejects.toThrow(/secret A is not a string/);
  });

  test("the supervisor's environment lacks the secrets' variables", () => {
    expect(supervisorEnv({ PATH: "/bin", API_KEY: "v", OTHER: "o" }, ["API_KEY"], "/h")).toEqual({
      PATH: "/bin",
      OTHER: "o",
      MSB_HOME: "/h",
    });
  });
});
