// The test's side of a namespace sandbox's agent.sock, and the host preconditions of booting one
// (erofs/overlay/ext4, a static busybox to build the image from). Shared by the namespace
// backend suites, which play the supervisor themselves.
import { existsSync, readFileSync } from "node:fs";
import type { FrameChannel } from "../../src/protocol/channel.ts";
import { decodeJson } from "../../src/protocol/frame.ts";
import { type Exited, type Frame, FrameKind, type Ready } from "../../src/protocol/messages.ts";

export const BUSYBOX = "/usr/bin/busybox";

export interface ExecResult {
  stdout: string;
  stderr: string;
  exited: Exited;
}

/** Waits for ready, runs exec sessions, notices shutdownDone. */
export class Supervisor {
  readonly ready: Promise<Ready>;
  readonly shutdownDone: Promise<void>;
  private readonly sessions = new Map<
    number,
    { out: string[]; err: string[]; done: (r: ExecResult) => void }
  >();
  private nextSession = 1;
  private onReady!: (ready: Ready) => void;
  private onShutdownDone!: () => void;

  constructor(readonly channel: FrameChannel) {
    this.ready = new Promise((resolve) => (this.onReady = resolve));
    this.shutdownDone = new Promise((resolve) => (this.onShutdownDone = resolve));
    channel.onFrame = (frame) => this.received(frame);
  }

  exec(argv: string[]): Promise<ExecResult> {
    const session = this.nextSession++;
    return new Promise((done) => {
      this.sessions.set(session, { out: [], err: [], done });
      this.channel.sendJson(FrameKind.exec, session, { argv, env: [], tty: false });
    });
  }

  async sh(script: string): Promise<string> {
    const result = await this.exec(["sh", "-c", script]);
    if (result.exited.code !== 0) throw new Error(`${script}: exit ${result.exited.code}: ${result.stderr}`);
    return result.stdout;
  }

  private received(frame: Frame): void {
    const text = new TextDecoder().decode(frame.payload);
    const session = this.sessions.get(frame.session);
    if (frame.kind === FrameKind.ready) this.onReady(decodeJson<Ready>(frame));
    else if (frame.kind === FrameKind.shutdownDone) this.onShutdownDone();
    else if (frame.kind === FrameKind.stdout) session?.out.push(text);
    else if (frame.kind === FrameKind.stderr) session?.err.push(text);
    else if (frame.kind === FrameKind.exited && session) {
      session.done({ stdout: session.out.join(""), stderr: session.err.join(""), exited: decodeJson(frame) });
    }
  }
}

export function requireFilesystems(): string | undefined {
  const known = readFileSync("/proc/filesystems", "utf8");
  const missing = ["erofs", "overlay", "ext4"].filter((name) => !new RegExp(`\\b${name}\\b`).test(known));
  return missing.length > 0 ? `${missing.join(", ")} not in /proc/filesystems (modprobe them)` : undefined;
}

/** A dynamically linked busybox would find no libc in the image. */
export function requireStaticBusybox(): string | undefined {
  if (!existsSync(BUSYBOX)) return `${BUSYBOX} not found (apt-get install busybox-static)`;
  const elf = readFileSync(BUSYBOX);
  const phoff = Number(elf.readBigUInt64LE(32));
  const [phentsize, phnum] = [elf.readUInt16LE(54), elf.readUInt16LE(56)];
  for (let i = 0; i < phnum; i++) {
    if (elf.readUInt32LE(phoff + i * phentsize) === 3)
      return `${BUSYBOX} is not static (apt-get install busybox-static)`;
  }
  return undefined;
}
