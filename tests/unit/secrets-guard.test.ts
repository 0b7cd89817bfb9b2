// The secret guard on decrypted streams: where a placeholder becomes the value (headers, Basic
// credentials, query, `:body` bodies), where it is a violation (other hosts, Host/SNI/DNS
// disagreement, plain connections, datagrams, bodies of non-body secrets), split pieces,
// keep-alive, chunked bodies, and echoed values masked on the way back.
import { describe, expect, test } from "bun:test";
import type { FlowContext, StreamFilter } from "../../src/network/intercept/flow-filter.ts";
import { createSecretGuard } from "../../src/network/secrets/secret-guard.ts";
import { guardedSecrets } from "../../src/network/secrets/secret-set.ts";
import type { SecretSpec, SecretViolationAction } from "../../src/sandbox/spec.ts";

const KEY_PH = "msb_ph_KEY_0123456789abcdef0123456789abcdef";
const BODY_PH = "msb_ph_BODY_fedcba9876543210fedcba9876543210";
const KEY = "sk-real-Value/+=42";
const BODY = "body-secret-éß";
const specs: SecretSpec[] = [
  { name: "KEY", hosts: ["api.example.com"], body: false, source: "literal", placeholder: KEY_PH },
  { name: "BODY", hosts: ["*.example.org"], body: true, source: "env", placeholder: BODY_PH },
];
const values = new Map([
  ["KEY", KEY],
  ["BODY", BODY],
]);

const api: FlowContext = {
  dstIp: "203.0.113.5",
  dstPort: 443,
  domains: ["api.example.com"],
  sni: "api.example.com",
};
const org: FlowContext = {
  dstIp: "203.0.113.6",
  dstPort: 443,
  domains: ["up.example.org"],
  sni: "up.example.org",
};

function setup(action: SecretViolationAction = "block-and-log") {
  const logs: string[] = [];
  let terminated = 0;
  const guard = createSecretGuard({
    secrets: guardedSecrets(specs, values),
    action,
    log: (line) => logs.push(line),
    terminate: () => terminated++,
  });
  return { guard, logs, terminated: () => terminated };
}

const enc = (text: string) => new TextEncoder().encode(text);
const utf8 = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Feeds the pieces; the forwarded text, or null when the filter cut the stream. */
function run(filter: StreamFilter, pieces: (string | Uint8Array)[]): string | null {
  const out: Uint8Array[] = [];
  for (const piece of pieces) {
    const forwarded = filter.push(typeof piece === "string" ? enc(piece) : piece);
    if (forwarded === null) return null;
    out.push(forwarded);
  }
  const rest = filter.end();
  if (rest === null) return null;
  out.push(rest);
  return utf8(Buffer.concat(out));
}

const request = (lines: string[], body = "") => `${lines.join("\r\n")}\r\n\r\n${body}`;
const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

describe("substitution on an allowed host", () => {
  test.each([
    [
      "a header value",
      [`GET / HTTP/1.1`, `Host: api.example.com`, `Authorization: Bearer ${KEY_PH}`],
      `Authorization: Bearer ${KEY}`,
    ],
    ["x-api-key", [`GET / HTTP/1.1`, `Host: api.example.com`, `X-Api-Key: ${KEY_PH}`], `X-Api-Key: ${KEY}`],
    [
      "the query",
      [`GET /v1?key=${KEY_PH}&a=1 HTTP/1.1`, `Host: api.example.com`],
      `GET /v1?key=${encodeURIComponent(KEY)}&a=1 HTTP/1.1`,
    ],
    [
      "Basic credentials",
      [`GET / HTTP/1.1`, `Host: api.example.com:443`, `Authorization: Basic ${b64(`user:${KEY_PH}`)}`],
      `Authorization: Basic ${b64(`user:${KEY}`)}`,
    ],
  ])("%s", (_, lines, expected) => {
    const { guard, logs } = setup();
    const out = run(guard.forTls(api).request, [request(lines)]);
    expect(out).toContain(expected);
    expect(out).not.toContain(KEY_PH);
    expect(out).toContain("Accept-Encoding: identity");
    expect(logs).toEqual([]);
  });

  test("a placeholder split across pushes, byte by byte", () => {
    const { guard } = setup();
    const text = request([`GET / HTTP/1.1`, `Host: api.example.com`, `Authorization: Bearer ${KEY_PH}`]);
    const out = run(
      guard.forTls(api).request,
      [...text].map((char) => char),
    );
    expect(out).toContain(`Authorization: Bearer ${KEY}`);
  });

  test("every request of a keep-alive connection, pipelined or not", () => {
    const { guard } = setup();
    const one = request(
      [`POST /a HTTP/1.1`, `Host: api.example.com`, `X-K: ${KEY_PH}`, `Content-Length: 5`],
      "hello",
    );
    const two = request([`GET /b?k=${KEY_PH} HTTP/1.1`, `Host: api.example.com`]);
    const three = request([`GET /c HTTP/1.1`, `Host: api.example.com`, `X-K: ${KEY_PH}`]);
    const filter = guard.forTls(api).request;
    const out = run(filter, [one + two.slice(0, 20), two.slice(20), three]);
    expect(out?.split(`X-K: ${KEY}\r\n`).length).toBe(3);
    expect(out).toContain(`GET /b?k=${encodeURIComponent(KEY)} HTTP/1.1`);
    expect(out).toContain("hello");
    expect(out).not.toContain(KEY_PH);
  });

  test("a :body secret in a Content-Length body: substituted and the length rewritten", () => {
    const { guard } = setup();
    const body = `{"token":"${BODY_PH}"}`;
    const text = request(
      [`POST /u HTTP/1.1`, `Host: up.example.org`, `Content-Length: ${body.length}`],
      body,
    );
    const out = run(guard.forTls(org).request, [text.slice(0, 50), text.slice(50, 90), text.slice(90)]);
    const expected = `{"token":"${BODY}"}`;
    expect(out).toContain(`Content-Length: ${Buffer.byteLength(expected)}`);
    expect(out?.endsWith(expected)).toBe(true);
  });

  test("a :body secret in a chunked body, split across chunks: re-chunked", () => {
    const { guard } = setup();
    const half = BODY_PH.length / 2;
    const chunks = [`a=${BODY_PH.slice(0, half)}`, `${BODY_PH.slice(half)}&b=2`];
    const chunked = `${chunks.map((chunk) => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join("")}0\r\n\r\n`;
    const text = request([`POST /u HTTP/1.1`, `Host: up.example.org`, `Transfer-Encoding: chunked`], chunked);
    const next = request([`GET /after HTTP/1.1`, `Host: up.example.org`]);
    const out = run(guard.forTls(org).request, [text.slice(0, 70), text.slice(70) + next]);
    const data = `a=${BODY}&b=2`;
    expect(out).toContain(`${Buffer.byteLength(data).toString(16)}\r\n${data}\r\n0\r\n\r\nGET /after`);
  });
});

describe("violations", () => {
  const cases: [string, FlowContext, string][] = [
    [
      "another host",
      { ...api, sni: "evil.example", domains: ["evil.example"] },
      request([`GET / HTTP/1.1`, `Host: evil.example`, `X-K: ${KEY_PH}`]),
    ],
    ["Host differs from SNI", api, request([`GET / HTTP/1.1`, `Host: evil.example`, `X-K: ${KEY_PH}`])],
    [
      "SNI not resolved by the sandbox's DNS",
      { ...api, domains: [] },
      request([`GET / HTTP/1.1`, `Host: api.example.com`, `X-K: ${KEY_PH}`]),
    ],
    [
      "two Host headers",
      api,
      request([`GET / HTTP/1.1`, `Host: api.example.com`, `Host: evil.example`, `X-K: ${KEY_PH}`]),
    ],
    [
      "an absolute target",
      api,
      request([`GET http://evil.example/ HTTP/1.1`, `Host: api.example.com`, `X-K: ${KEY_PH}`]),
    ],
    ["the path", api, request([`GET /${KEY_PH} HTTP/1.1`, `Host: api.example.com`])],
    [
      "a percent-encoded placeholder",
      { ...api, sni: "x.example", domains: ["x.example"] },
      request([`GET /?q=%6D%73%62${KEY_PH.slice(3)} HTTP/1.1`, `Host: x.example`]),
    ],
    [
      "a base64'd placeholder",
      { ...api, sni: "x.example", domains: ["x.example"] },
      request([`GET / HTTP/1.1`, `Host: x.example`, `X-K: ${b64(`zz${KEY_PH}zz`)}`]),
    ],
    [
      "the body of a non-body secret",
      api,
      request(
        [`POST / HTTP/1.1`, `Host: api.example.com`, `Content-Length: ${KEY_PH.length + 2}`],
        `k=${KEY_PH}`,
      ),
    ],
    [
      "a body secret on another host",
      { ...org, sni: "evil.example", domains: ["evil.example"] },
      request([`POST / HTTP/1.1`, `Host: evil.example`, `Content-Length: ${BODY_PH.length}`], BODY_PH),
    ],
    [
      "a compressed body for a body secret",
      org,
      request(
        [`POST / HTTP/1.1`, `Host: up.example.org`, `Content-Encoding: gzip`, `Content-Length: 3`],
        "abc",
      ),
    ],
    [
      "a second keep-alive request to another Host",
      api,
      request([`GET / HTTP/1.1`, `Host: api.example.com`]) +
        request([`GET / HTTP/1.1`, `Host: other.example`, `X-K: ${KEY_PH}`]),
    ],
    [
      "data after an upgrade",
      api,
      request([`GET /ws HTTP/1.1`, `Host: api.example.com`, `Upgrade: websocket`]) + `frame ${KEY_PH}`,
    ],
  ];
  test.each(cases)("%s: cut and logged", (_, context, text) => {
    const { guard, logs, terminated } = setup();
    expect(run(guard.forTls(context).request, [text.slice(0, 41), text.slice(41)])).toBeNull();
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/^secret violation: (KEY|BODY)'s placeholder in .* to .*: blocked$/);
    expect(logs[0]).not.toContain(KEY);
    expect(terminated()).toBe(0);
  });

  test("a plain connection carrying a placeholder split across two segments", () => {
    const { guard, logs } = setup();
    const context: FlowContext = { dstIp: "203.0.113.5", dstPort: 80, domains: ["api.example.com"] };
    const text = `GET / HTTP/1.1\r\nHost: api.example.com\r\nX-K: ${KEY_PH}\r\n\r\n`;
    const filter = guard.forPlain(context);
    const cut = text.indexOf(KEY_PH) + 10;
    expect(filter.push(enc(text.slice(0, cut)))).not.toBeNull();
    expect(filter.push(enc(text.slice(cut)))).toBeNull();
    expect(filter.push(enc("more"))).toBeNull();
    expect(logs[0]).toContain("KEY's placeholder in a plain connection to api.example.com (203.0.113.5):80");
  });

  test("plain bytes without placeholders pass untouched", () => {
    const { guard } = setup();
    const context: FlowContext = { dstIp: "203.0.113.5", dstPort: 80, domains: [] };
    expect(run(guard.forPlain(context), ["GET / HTTP/1.1\r\n", "\r\n"])).toBe("GET / HTTP/1.1\r\n\r\n");
  });

  test("a datagram", () => {
    const { guard, logs } = setup();
    const context = { dstIp: "203.0.113.5", dstPort: 53, domains: [] };
    expect(guard.allowDatagram(context, enc(`x${BODY_PH}x`))).toBe(false);
    expect(guard.allowDatagram(context, enc("harmless"))).toBe(true);
    expect(logs).toHaveLength(1);
  });

  test("block is silent; block-and-terminate stops the sandbox once", () => {
    const bad = request([`GET / HTTP/1.1`, `Host: evil.example`, `X-K: ${KEY_PH}`]);
    const evil = { ...api, sni: "evil.example", domains: ["evil.example"] };
    const quiet = setup("block");
    expect(run(quiet.guard.forTls(evil).request, [bad])).toBeNull();
    expect(quiet.logs).toEqual([]);
    const stopping = setup("block-and-terminate");
    expect(run(stopping.guard.forTls(evil).request, [bad])).toBeNull();
    expect(run(stopping.guard.forTls(evil).request, [bad])).toBeNull();
    expect(stopping.terminated()).toBe(1);
    expect(stopping.logs[0]).toContain("blocked, stopping the sandbox");
  });

  test("a request without placeholders to any host passes unchanged", () => {
    const { guard } = setup();
    const text = request([`POST /x HTTP/1.1`, `Host: evil.example`, `Content-Length: 3`], "abc");
    expect(run(guard.forTls({ ...api, sni: "evil.example" }).request, [text])).toBe(text);
  });
});

describe("responses", () => {
  test("an echoed value is masked, split or not, keeping its length", () => {
    const { guard } = setup();
    const filter = guard.forTls(api).response;
    const body = `you sent ${KEY} and ${KEY}`;
    const text = `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const cut = text.indexOf(KEY) + 4;
    const out = run(filter, [text.slice(0, cut), text.slice(cut)]);
    expect(out).not.toContain(KEY);
    expect(out?.length).toBe(text.length);
    expect(out).toContain(KEY_PH.slice(0, KEY.length));
  });

  test("nothing held back at the end of a response", () => {
    const { guard } = setup();
    expect(run(guard.forTls(api).response, ["HTTP/1.1 204 No Content\r\n\r\nsk-"])).toBe(
      "HTTP/1.1 204 No Content\r\n\r\nsk-",
    );
  });
});

describe("response framing", () => {
  const ECHO_PREFIX = KEY.slice(0, 6);

  test.each([
    ["Content-Length", `HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nends ${ECHO_PREFIX.slice(0, 4)}`],
    [
      "chunked",
      `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n${ECHO_PREFIX.slice(0, 4)}\r\n0\r\n\r\n`,
    ],
    ["no body", `HTTP/1.1 204 No Content\r\nX: ${ECHO_PREFIX}\r\n\r\n`],
  ])("a %s message that ends like a value is released at its end", (_, text) => {
    const { guard } = setup();
    expect(utf8(guard.forTls(api).response.push(enc(text))!)).toBe(text);
  });

  test("keep-alive responses each release, and an echo in the second is masked", () => {
    const { guard } = setup();
    const filter = guard.forTls(api).response;
    const first = `HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nsk-`;
    const second = `HTTP/1.1 200 OK\r\nContent-Length: ${KEY.length}\r\n\r\n${KEY}`;
    expect(utf8(filter.push(enc(first))!)).toBe(first);
    const out = utf8(filter.push(enc(second.slice(0, 45)))!) + utf8(filter.push(enc(second.slice(45)))!);
    expect(out).toHaveLength(second.length);
    expect(out).not.toContain(KEY);
  });
});
