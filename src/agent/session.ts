// One exec session: a process spawned with pipes or a PTY, in its own session and process group
// so signals reach everything it started. Its output goes out as frames; `exited` is sent only
// after the last output frame, so a client never loses or reorders output.
import { constants } from "node:os";
import type { Subprocess, Terminal } from "bun";
import type { FrameChannel } from "../protocol/channel.ts";
import { type Exited, FrameKind } from "../protocol/messages.ts";
import type { PreparedExec } from "./exec-prepare.ts";
import { emitChunks, type OutputSource, pipeSource, pushedSource, settleOutput } from "./session-output.ts";

const SIGKILL = constants.signals.SIGKILL;

export interface SessionHooks {
  /** The session sent or received something (feeds the sandbox's idle timer). */
  activity(): void;
}

export class ExecSession {
  /** Resolves once `exited` has been sent. */
  readonly done: Promise<void>;
  private process: Subprocess | null = null;
  private terminal: Terminal | null = null;
  private timedOut = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private finish!: () => void;

  constructor(
    readonly id: number,
    private readonly channel: FrameChannel,
    private readonly exec: PreparedExec,
    private readonly hooks: SessionHooks,
  ) {
    this.done = new Promise((resolve) => (this.finish = resolve));
  }

  /** Spawns the process; a spawn error ends the session at once with failure `spawn-failed`. */
  start(): void {
    let sources: OutputSource[];
    try {
      sources = this.exec.tty ? this.spawnWithTerminal() : this.spawnWithPipes();
    } catch (error) {
      const message = `cannot start ${this.exec.argv[0]}: ${(error as Error).message}`;
      this.sendExited({ code: null, signal: null, failure: { kind: "spawn-failed", message } });
      return;
    }
    const process = this.process!;
    this.channel.sendJson(FrameKind.started, this.id, { pid: process.pid });
    if (this.exec.timeoutMs !== null) {
      this.timer = setTimeout(() => {
        this.timedOut = true;
        this.signal(SIGKILL);
      }, this.exec.timeoutMs);
    }
    void this.waitForExit(process, sources);
  }

  /** Bytes for the process's input; empty = EOF (ignored with a PTY, where ^D is the user's to type). */
  stdin(bytes: Uint8Array): void {
    this.hooks.activity();
    if (this.terminal !== null) {
      if (bytes.length > 0 && !this.terminal.closed) this.terminal.write(bytes);
      return;
    }
    const sink = this.process?.stdin;
    if (sink === undefined || sink === null || typeof sink === "number") return;
    try {
      if (bytes.length === 0) {
        void Promise.resolve(sink.end()).catch(() => {});
      } else {
        sink.write(bytes);
        void Promise.resolve(sink.flush()).catch(() => {});
      }
    } catch {
      // The process closed its stdin or exited: input for it has nowhere to go.
    }
  }

  resize(rows: number, cols: number): void {
    if (this.terminal !== null && !this.terminal.closed) this.terminal.resize(cols, rows);
  }

  /** Delivers `signal` to the process group (the whole job, not just its leader). */
  signal(signal: number): void {
    const pid = this.process?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      try {
        process.kill(pid, signal);
      } catch {
        // Already gone.
      }
    }
  }

  private spawnWithPipes(): OutputSource[] {
    const child = Bun.spawn({
      ...this.spawnOptions(),
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      // setsid: a new session and process group, so a signal frame reaches the whole job.
      detached: true,
    });
    this.process = child;
    return [
      pipeSource(child.stdout, this.channel, (chunk) => this.output(FrameKind.stdout, chunk)),
      pipeSource(child.stderr, this.channel, (chunk) => this.output(FrameKind.stderr, chunk)),
    ];
  }

  private spawnWithTerminal(): OutputSource[] {
    const source = pushedSource(() => this.terminal?.close());
    // Bun makes the PTY the controlling terminal of a new session, so ^C reaches the foreground job.
    const child = Bun.spawn({
      ...this.spawnOptions(),
      terminal: {
        cols: this.exec.cols,
        rows: this.exec.rows,
        data: (_terminal, data) => {
          source.push();
          emitChunks(data, (chunk) => this.output(FrameKind.stdout, chunk));
        },
        exit: () => source.end(),
      },
    });
    this.process = child;
    this.terminal = child.terminal ?? null;
    return [source];
  }

  private spawnOptions() {
    const { file, argv, env, cwd, identity } = this.exec;
    return {
      cmd: [file, ...argv.slice(1)],
      argv0: argv[0],
      env,
      cwd,
      ...(identity === null ? {} : { uid: identity.uid, gid: identity.gid }),
    };
  }

  private output(kind: FrameKind, chunk: Uint8Array): void {
    this.hooks.activity();
    this.channel.send({ kind, session: this.id, payload: chunk });
  }

  private async waitForExit(child: Subprocess, sources: OutputSource[]): Promise<void> {
    await child.exited;
    clearTimeout(this.timer);
    await settleOutput(sources);
    this.terminal?.close();
    const signal =
      typeof child.signalCode === "string" ? (constants.signals[child.signalCode] ?? null) : null;
    const exited: Exited = { code: signal === null ? child.exitCode : null, signal };
    if (this.timedOut) {
      exited.failure = { kind: "timeout", message: `killed after the ${this.exec.timeoutMs} ms timeout` };
    }
    this.sendExited(exited);
  }

  private sendExited(exited: Exited): void {
    this.hooks.activity();
    this.channel.sendJson(FrameKind.exited, this.id, exited);
    this.finish();
  }
}
