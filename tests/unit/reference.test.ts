import { describe, expect, test } from "bun:test";
import { UsageError } from "../../src/errors.ts";
import {
  formatReference,
  normalizeRegistry,
  parseReference,
  referenceTarget,
} from "../../src/image/reference.ts";

const DIGEST = `sha256:${"a".repeat(64)}`;

describe("parseReference", () => {
  const valid: Array<
    [string, string, { registry: string; repository: string; tag?: string; digest?: string }]
  > = [
    [
      "alpine",
      "docker.io/library/alpine:latest",
      { registry: "docker.io", repository: "library/alpine", tag: "latest" },
    ],
    [
      "alpine:3.20",
      "docker.io/library/alpine:3.20",
      { registry: "docker.io", repository: "library/alpine", tag: "3.20" },
    ],
    ["user/app:1", "docker.io/user/app:1", { registry: "docker.io", repository: "user/app", tag: "1" }],
    [
      "docker.io/alpine",
      "docker.io/library/alpine:latest",
      { registry: "docker.io", repository: "library/alpine" },
    ],
    [
      "index.docker.io/library/alpine",
      "docker.io/library/alpine:latest",
      { registry: "docker.io", repository: "library/alpine" },
    ],
    [
      "registry-1.docker.io/user/app",
      "docker.io/user/app:latest",
      { registry: "docker.io", repository: "user/app" },
    ],
    [
      "ghcr.io/owner/app:v1.2.3",
      "ghcr.io/owner/app:v1.2.3",
      { registry: "ghcr.io", repository: "owner/app" },
    ],
    ["localhost/x", "localhost/x:latest", { registry: "localhost", repository: "x" }],
    ["localhost:5000/x/y/z:t", "localhost:5000/x/y/z:t", { registry: "localhost:5000", repository: "x/y/z" }],
    ["127.0.0.1:5000/app", "127.0.0.1:5000/app:latest", { registry: "127.0.0.1:5000", repository: "app" }],
    ["[::1]:5000/app:1", "[::1]:5000/app:1", { registry: "[::1]:5000", repository: "app", tag: "1" }],
    ["Quay.IO/org/app", "quay.io/org/app:latest", { registry: "quay.io", repository: "org/app" }],
    ["ghcr.io/app", "ghcr.io/app:latest", { registry: "ghcr.io", repository: "app" }],
    [
      "my-registry.local:443/a_b/c__d/e-f.g",
      "my-registry.local:443/a_b/c__d/e-f.g:latest",
      { registry: "my-registry.local:443", repository: "a_b/c__d/e-f.g" },
    ],
    [
      `alpine@${DIGEST}`,
      `docker.io/library/alpine@${DIGEST}`,
      { registry: "docker.io", repository: "library/alpine", digest: DIGEST },
    ],
    [
      `alpine:3.20@${DIGEST}`,
      `docker.io/library/alpine:3.20@${DIGEST}`,
      { registry: "docker.io", repository: "library/alpine", tag: "3.20", digest: DIGEST },
    ],
    [
      `localhost:5000/app@${DIGEST}`,
      `localhost:5000/app@${DIGEST}`,
      { registry: "localhost:5000", repository: "app", digest: DIGEST },
    ],
    [
      "app:_Tag.with-CAPS",
      "docker.io/library/app:_Tag.with-CAPS",
      { registry: "docker.io", repository: "library/app" },
    ],
    [
      `app:${"t".repeat(128)}`,
      `docker.io/library/app:${"t".repeat(128)}`,
      { registry: "docker.io", repository: "library/app" },
    ],
  ];
  test.each(valid)("%p → %p", (input, canonical, expected) => {
    const ref = parseReference(input);
    expect(ref).toMatchObject(expected);
    expect(formatReference(ref)).toBe(canonical);
    expect(formatReference(parseReference(canonical))).toBe(canonical);
  });

  test("a digest without a tag leaves the tag unset", () => {
    const ref = parseReference(`alpine@${DIGEST}`);
    expect(ref.tag).toBeUndefined();
    expect(referenceTarget(ref)).toBe(DIGEST);
    expect(referenceTarget(parseReference("alpine:3"))).toBe("3");
  });

  test("a reference is plain JSON data", () => {
    const ref = parseReference("ghcr.io/o/a:1");
    expect(JSON.parse(JSON.stringify(ref))).toEqual(ref);
  });

  const invalid: Array<[string, string]> = [
    ["", "empty"],
    [" alpine", "whitespace"],
    ["Alpine", 'repository "Alpine" must be lowercase'],
    ["user/MyApp:1", 'repository "MyApp" must be lowercase'],
    ["alpine:bad!tag", 'bad tag "bad!tag"'],
    ["alpine:.hidden", 'bad tag ".hidden"'],
    [`alpine:${"t".repeat(129)}`, "129 characters"],
    ["alpine:", 'tag after ":" is empty'],
    ["alpine::latest", '"::" is not allowed'],
    ["alpine@sha256:abc", 'bad digest "sha256:abc"'],
    [`alpine@sha256:${"A".repeat(64)}`, "bad digest"],
    [`alpine@md5:${"a".repeat(32)}`, "bad digest"],
    ["alpine/", 'ends with "/"'],
    ["ghcr.io/", 'ends with "/"'],
    ["a//b", "empty path component"],
    ["-alpine", 'bad repository name "-alpine"'],
    ["a..b/c", 'bad registry "a..b"'],
    ["https://ghcr.io/a", 'bad registry "https:"'],
    [":tag", "repository name is empty"],
    [`${"a".repeat(250)}/b`, "longer than 255"],
  ];
  test.each(invalid)("%p is rejected (%s)", (input, fragment) => {
    let caught: unknown;
    try {
      parseReference(input);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UsageError);
    const message = (caught as Error).message;
    expect(message).toContain(`"${input}"`);
    expect(message).toContain(fragment);
    expect(message).not.toContain("\n");
  });
});

describe("normalizeRegistry", () => {
  test.each([
    ["docker.io", "docker.io"],
    ["index.docker.io", "docker.io"],
    ["registry-1.docker.io", "docker.io"],
    ["https://index.docker.io/v1/", "docker.io"],
    ["GHCR.io", "ghcr.io"],
    ["http://localhost:5000", "localhost:5000"],
    [" quay.io/ ", "quay.io"],
  ])("%p → %p", (input, expected) => {
    expect(normalizeRegistry(input)).toBe(expected);
  });
});
