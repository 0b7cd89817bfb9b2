// `-p [ADDR:]HOST:GUEST[/tcp|/udp]` parsing: defaults, addresses, protocols, and refusals.
import { describe, expect, test } from "bun:test";
import { parsePort, parsePorts } from "../../src/sandbox/parse-ports.ts";

describe("parsePort", () => {
  test.each([
    ["8080:80", { bindAddress: "127.0.0.1", hostPort: 8080, guestPort: 80, protocol: "tcp" }],
    ["8080:80/tcp", { bindAddress: "127.0.0.1", hostPort: 8080, guestPort: 80, protocol: "tcp" }],
    ["5353:53/udp", { bindAddress: "127.0.0.1", hostPort: 5353, guestPort: 53, protocol: "udp" }],
    ["0.0.0.0:80:8000", { bindAddress: "0.0.0.0", hostPort: 80, guestPort: 8000, protocol: "tcp" }],
    ["[::1]:8443:443", { bindAddress: "::1", hostPort: 8443, guestPort: 443, protocol: "tcp" }],
  ])("%s", (spec, expected) => {
    expect(parsePort(spec)).toEqual(expected as ReturnType<typeof parsePort>);
  });

  test.each([
    ["8080", /expected HOST:GUEST/],
    ["8080:80/sctp", /tcp or udp/],
    ["0:80", /0 is not a port/],
    ["8080:70000", /70000 is not a port/],
    ["host.example:80:80", /not an IP address/],
    ["a:b", /a is not a port/],
  ])("%s is refused", (spec, message) => {
    expect(() => parsePort(spec)).toThrow(message);
  });

  test("the same host port twice is refused, tcp and udp may share one", () => {
    expect(() => parsePorts(["8080:80", "8080:81"])).toThrow(/published twice/);
    expect(parsePorts(["53:53", "53:53/udp"])).toHaveLength(2);
  });
});
