// Reading `run`/`create` flags from raw arguments: every occurrence of a repeated flag in each
// spelling, the guest command after `--`, and agreement with citty on single values.
import { describe, expect, test } from "bun:test";
import { type ArgsDef, parseArgs as cittyParseArgs } from "citty";
import {
  repeatable,
  sandboxArgs,
  sandboxOptionsInput,
  scanArgs,
  splitGuestCommand,
} from "../../src/commands/_sandbox-args.ts";

/** What `msb run` adds to the shared flags. */
const runArgs = {
  image: { type: "positional", required: true, description: "Image" },
  ...sandboxArgs,
  detach: { type: "boolean", alias: "d", description: "Run in the background" },
  tty: { type: "boolean", alias: "t", description: "Allocate a terminal" },
  timeout: { type: "string", description: "Command timeout" },
} as const satisfies ArgsDef;

describe("repeatable flags", () => {
  test("citty itself keeps only the last value (why repeatable exists)", () => {
    const parsed = cittyParseArgs<typeof runArgs>(["alpine", "-v", "/a:/a", "-v", "/b:/b"], runArgs);
    expect(parsed.volume).toBe("/b:/b");
  });

  test.each([
    [
      ["alpine", "-v", "/a:/a", "-v", "/b:/b"],
      ["/a:/a", "/b:/b"],
    ],
    [
      ["--volume=/a:/a", "alpine", "--volume", "/b:/b", "-v/c:/c"],
      ["/a:/a", "/b:/b", "/c:/c"],
    ],
    [["-qv", "/a:/a", "alpine"], ["/a:/a"]],
    [["alpine", "-v", "/a:/a", "--", "-v", "/guest:/guest"], ["/a:/a"]],
    [["alpine"], []],
    [["alpine", "-v"], [""]],
  ])("%j → %j", (raw, volumes) => {
    expect(repeatable(runArgs, "volume", raw)).toEqual(volumes);
  });

  test("values that look like flags belong to the option before them, as in citty", () => {
    const raw = ["alpine", "-e", "-v", "-e", "A=1", "--no-replace", "-e", "B=2"];
    expect(repeatable(runArgs, "env", raw)).toEqual(["-v", "A=1", "B=2"]);
    expect(repeatable(runArgs, "volume", raw)).toEqual([]);
  });

  test("kebab and camel spellings of multi-word flags", () => {
    const scanned = scanArgs(runArgs, ["--max-duration", "1h", "--idleTimeout=5m", "alpine"]);
    expect(scanned.values.get("max-duration")).toEqual(["1h"]);
    expect(scanned.values.get("idle-timeout")).toEqual(["5m"]);
  });
});

describe("the guest command", () => {
  test.each([
    [["alpine", "--", "echo", "hi"], ["alpine"], ["echo", "hi"]],
    [["-n", "dev", "alpine", "--", "sh", "-c", "a -- b"], ["alpine"], ["sh", "-c", "a -- b"]],
    [["alpine", "--", "--", "x"], ["alpine"], ["--", "x"]],
    [["alpine", "echo"], ["alpine", "echo"], []],
    [["--", "alpine"], [], ["alpine"]],
    [["-e", "--", "alpine", "--", "ls"], ["alpine"], ["ls"]],
    [["--no-tty", "alpine", "--", "ls"], ["alpine"], ["ls"]],
  ])("%j", (raw, positionals, command) => {
    const split = splitGuestCommand(runArgs, raw);
    expect(split.positionals).toEqual(positionals);
    expect(split.command).toEqual(command);
    const boundary = raw.length - command.length - (split.options.length < raw.length ? 1 : 0);
    expect(split.options).toEqual(raw.slice(0, boundary));
  });
});

describe("sandboxOptionsInput", () => {
  test("collects every flag, last value wins for single ones", () => {
    const raw = [
      "-n",
      "dev",
      "--name=prod",
      "-c",
      "2",
      "-m",
      "1G",
      "-v",
      "./a:/a",
      "--volume",
      "./b:/b",
      "-w",
      "/work",
      "--shell",
      "/bin/bash",
      "-e",
      "A=1",
      "--env=B",
      "--replace",
      "--tmpfs",
      "/tmp:64M",
      "--script",
      "s:./s.sh",
      "--entrypoint",
      "",
      "-H",
      "web",
      "-u",
      "1000",
      "--pull",
      "never",
      "--max-duration",
      "1h",
      "--idle-timeout",
      "5m",
      "--isolation",
      "namespace",
      "--net-rule",
      "allow@host",
      "--net-rule=deny@10.0.0.0/8",
      "--dns-block-domain",
      "ads.test",
      "--dns-nameserver",
      "192.0.2.53",
      "--no-dns-rebind-protection",
      "--max-connections",
      "64",
      "-p",
      "8080:80",
      "--port=5353:53/udp",
      "-q",
      "-d",
      "python:3.12",
      "--",
      "python",
      "-V",
    ];
    expect(sandboxOptionsInput(runArgs, raw)).toEqual({
      name: "prod",
      cpus: "2",
      memory: "1G",
      volume: ["./a:/a", "./b:/b"],
      workdir: "/work",
      shell: "/bin/bash",
      env: ["A=1", "B"],
      tmpfs: ["/tmp:64M"],
      script: ["s:./s.sh"],
      entrypoint: "",
      hostname: "web",
      user: "1000",
      pull: "never",
      maxDuration: "1h",
      idleTimeout: "5m",
      isolation: "namespace",
      noNetwork: false,
      netRule: ["allow@host", "deny@10.0.0.0/8"],
      dnsBlockDomain: ["ads.test"],
      dnsNameserver: ["192.0.2.53"],
      noDnsRebindProtection: true,
      maxConnections: "64",
      port: ["8080:80", "5353:53/udp"],
      secret: [],
      secretViolation: undefined,
      tlsIntercept: false,
      tlsInterceptPort: [],
      tlsBypass: [],
      noBlockQuic: false,
      tlsInterceptCaCert: undefined,
      tlsInterceptCaKey: undefined,
      tlsUpstreamCaCert: [],
      command: ["python", "-V"],
    });
  });

  test("absent flags stay undefined", () => {
    const input = sandboxOptionsInput(runArgs, ["alpine"]);
    expect(input.name).toBeUndefined();
    expect(input.memory).toBeUndefined();
    expect(input.volume).toEqual([]);
    expect(input.command).toEqual([]);
    expect(input.noNetwork).toBe(false);
    expect(sandboxOptionsInput(runArgs, ["--no-network", "alpine"]).noNetwork).toBe(true);
  });

  test.each([
    [["-n", "a", "alpine", "-m", "1G"]],
    [["-qn", "a", "alpine", "--cpus=3", "-H", "h"]],
    [["alpine", "-u", "-x", "--no-replace", "-w", "/w"]],
    [["-n=a", "alpine", "--isolation", "vm"]],
  ])("agrees with citty on single values: %j", (raw) => {
    const parsed = cittyParseArgs<typeof runArgs>(raw, runArgs);
    const input = sandboxOptionsInput(runArgs, raw);
    expect(input.name).toBe(parsed.name);
    expect(input.memory).toBe(parsed.memory);
    expect(input.cpus).toBe(parsed.cpus);
    expect(input.hostname).toBe(parsed.hostname);
    expect(input.user).toBe(parsed.user);
    expect(input.workdir).toBe(parsed.workdir);
    expect(input.isolation).toBe(parsed.isolation);
  });
});
