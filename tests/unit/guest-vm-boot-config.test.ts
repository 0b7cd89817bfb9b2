// The boot config on the VM backend: what the supervisor puts in it (disks by serial, the agent
// port by name, binds as share tags, the scripts inline, a guest-side runtime folder), how the
// agent receives it as the first frame on its channel, and the check of the inline scripts.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { AgentBootConfig, BootMount } from "../../src/agent/boot-config.ts";
import { checkBootConfig } from "../../src/agent/read-boot-config.ts";
import { receiveBootConfig } from "../../src/agent/vm-guest.ts";
import { msbPaths } from "../../src/paths.ts";
import type { FrameChannel } from "../../src/protocol/channel.ts";
import { jsonFrame } from "../../src/protocol/frame.ts";
import { type Frame, FrameKind } from "../../src/protocol/messages.ts";
import type { SandboxRecord } from "../../src/store/sandbox-records.ts";
import { runtimeLayout, writeBootConfig } from "../../src/supervisor/runtime-dir.ts";
import { tempDir } from "../helpers/tar-fixtures.ts";

const dir = tempDir("vm-boot");
afterAll(() => dir.cleanup());
const paths = msbPaths(dir.path);

/** The spec's mounts as the supervisor resolved them: binds, tmpfs and a disk volume's disk. */
const MOUNTS: BootMount[] = [
  { kind: "bind", source: "/src", target: "/work", readonly: false },
  { kind: "tmpfs", target: "/cache", sizeBytes: null },
  { kind: "bind", source: "/etc/ssl", target: "/ssl", readonly: true },
  {
    kind: "disk",
    volume: "data",
    image: "/h/volumes/data.ext4",
    source: "msb-vol-0",
    target: "/data",
    readonly: false,
  },
];

function record(isolation: "vm" | "namespace"): SandboxRecord {
  const spec = {
    name: "box",
    isolation,
    hostname: "box",
    manifestDigest: "sha256:abcd",
    env: ["PATH=/bin"],
    workdir: "/srv",
    user: null,
    mounts: MOUNTS,
    scripts: [{ name: "hello", content: "#!/bin/sh\necho hi\n" }],
  };
  return { id: "ab12", name: "box", spec } as unknown as SandboxRecord;
}

// Both records share the id, so one runtime folder serves every case.
mkdirSync(runtimeLayout(paths, record("vm")).dir, { recursive: true });

describe("writeBootConfig", () => {
  test("VM: serials, the port name, share tags, inline scripts; the same content on disk", () => {
    const layout = runtimeLayout(paths, record("vm"));
    const config = writeBootConfig(paths, record("vm"), layout, null, MOUNTS);
    expect(config).toEqual({
      version: 1,
      backend: "vm",
      hostname: "box",
      lowerDisk: "msb-lower",
      upperDisk: "msb-upper",
      runtimeDir: "/run/msb",
      agentSocket: "msb-agent",
      env: ["PATH=/bin"],
      workdir: "/srv",
      user: null,
      mounts: [
        { kind: "bind", source: "msb-m0", target: "/work", readonly: false },
        { kind: "tmpfs", target: "/cache", sizeBytes: null },
        { kind: "bind", source: "msb-m1", target: "/ssl", readonly: true },
        {
          kind: "disk",
          volume: "data",
          image: "/h/volumes/data.ext4",
          source: "msb-vol-0",
          target: "/data",
          readonly: false,
        },
      ],
      shutdownGraceMs: 10_000,
      network: null,
      scripts: [{ name: "hello", content: "#!/bin/sh\necho hi\n" }],
    });
    expect(JSON.parse(readFileSync(layout.bootConfig, "utf8"))).toEqual(config);
    expect(checkBootConfig(config, "vm")).toEqual(config);
  });

  test("namespace: host files and sockets, no inline scripts", () => {
    const layout = runtimeLayout(paths, record("namespace"));
    const config = writeBootConfig(paths, record("namespace"), layout, null, MOUNTS);
    expect(config.lowerDisk).toBe(join(dir.path, "images/abcd/rootfs.erofs"));
    expect(config.agentSocket).toBe("/.msb/agent.sock");
    expect(config.runtimeDir).toBe(layout.dir);
    expect(config.scripts).toBeUndefined();
    expect(config.mounts[0]).toEqual({ kind: "bind", source: "/src", target: "/work", readonly: false });
  });

  test("the interception CA goes to the agent on both backends", () => {
    for (const isolation of ["vm", "namespace"] as const) {
      const layout = runtimeLayout(paths, record(isolation));
      expect(writeBootConfig(paths, record(isolation), layout, null, MOUNTS, "PEM").caCertPem).toBe("PEM");
      expect(writeBootConfig(paths, record(isolation), layout, null, MOUNTS).caCertPem).toBeUndefined();
    }
  });
});

describe("checkBootConfig scripts", () => {
  const base = writeBootConfig(paths, record("vm"), runtimeLayout(paths, record("vm")), null, MOUNTS);
  test.each<[string, unknown]>([
    ["a path in the name", [{ name: "../x", content: "" }]],
    ["a dot-dot name", [{ name: "..", content: "" }]],
    ["no content", [{ name: "x" }]],
    ["not a list", { name: "x", content: "" }],
  ])("refuses %s", (_, scripts) => {
    expect(() => checkBootConfig({ ...base, scripts }, "vm")).toThrow(
      "scripts must be a list of {name, content}",
    );
  });
});

/** A channel whose frames the test delivers by hand. */
function fakeChannel(): FrameChannel & { deliver(frame: Frame): void; end(): void } {
  const channel = {
    closed: false,
    onFrame: (_frame: Frame) => {},
    onClose: (_error?: Error) => {},
    send() {},
    sendJson() {},
    close() {},
    deliver(frame: Frame) {
      channel.onFrame(frame);
    },
    end() {
      channel.onClose();
    },
  };
  return channel;
}

describe("receiveBootConfig", () => {
  const config = writeBootConfig(paths, record("vm"), runtimeLayout(paths, record("vm")), null, MOUNTS);
  const frame = (kind: Frame["kind"], body: unknown): Frame => jsonFrame(kind, 0, body);

  test("takes the first frame when it is the boot config", async () => {
    const channel = fakeChannel();
    const received = receiveBootConfig(channel);
    channel.deliver(frame(FrameKind.bootConfig, config));
    expect(await received).toEqual(config as AgentBootConfig);
  });

  test.each<[string, (channel: ReturnType<typeof fakeChannel>) => void, string]>([
    [
      "another frame first",
      (c) => c.deliver(frame(FrameKind.exec, {})),
      "expected the boot config as the first frame",
    ],
    [
      "an invalid config",
      (c) => c.deliver(frame(FrameKind.bootConfig, { version: 2 })),
      "unsupported version 2",
    ],
    ["the channel closing", (c) => c.end(), "closed the agent channel before sending the boot config"],
  ])("fails on %s", async (_, act, message) => {
    const channel = fakeChannel();
    const received = receiveBootConfig(channel);
    act(channel);
    await expect(received).rejects.toThrow(message);
  });
});
