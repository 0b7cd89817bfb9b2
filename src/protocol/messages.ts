// Every message of the agent protocol, shared by both ends: the agent (PID 1 in the sandbox),
// the supervisor that relays it, and CLI clients. Frames are binary (see frame.ts); control
// payloads are JSON, stream payloads (stdin/stdout/stderr) are raw bytes.

export const PROTOCOL_VERSION = 1;
/** Largest payload of one frame; stream data is split into chunks below this. */
export const MAX_PAYLOAD = 4 << 20;

export const FrameKind = {
  /** agent → supervisor → client, session 0: the agent is up. JSON Ready. */
  ready: 1,
  /** client → agent: start a process. JSON ExecRequest. Opens the session named in the frame. */
  exec: 2,
  /** agent → client: the process runs. JSON Started. */
  started: 3,
  /** client → agent: bytes for the process's stdin; an empty payload closes stdin (EOF). */
  stdin: 4,
  /** agent → client: bytes the process wrote (with a PTY, all output comes as stdout). */
  stdout: 5,
  stderr: 6,
  /** client → agent: the terminal changed size. JSON Resize. */
  resize: 7,
  /** client → agent: deliver a signal to the process (its process group with a PTY). JSON Signal. */
  signal: 8,
  /** agent → client: the session is over; last frame of a session. JSON Exited. */
  exited: 9,
  /** supervisor → agent, session 0: stop every process and flush. JSON Shutdown. */
  shutdown: 10,
  /** agent → supervisor, session 0: shutdown finished; filesystems synced and unmounted. */
  shutdownDone: 11,
  /** either way: a request could not be handled. JSON ProtocolErrorBody. Session 0 = fatal. */
  error: 12,
  /** client → supervisor, session 0: liveness and activity (keeps --idle-timeout away). */
  ping: 13,
  pong: 14,
  /**
   * client → supervisor → agent, session 0: sample resource use now. JSON StatsRequest. The
   * supervisor renumbers `id` per agent request, as it renumbers sessions.
   */
  stats: 15,
  /** agent → supervisor → client, session 0: the sample. JSON GuestStats, then SandboxStats. */
  statsResult: 16,
  /**
   * supervisor → agent, session 0, VM backend: the boot config (JSON AgentBootConfig). The first
   * frame on the channel; the guest has no file system shared with the host to read it from.
   */
  bootConfig: 17,
} as const;

export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

export interface Frame {
  kind: FrameKind;
  /** 0 for the connection itself; otherwise one exec session. */
  session: number;
  payload: Uint8Array;
}

export interface Ready {
  /** msb version of the agent binary. */
  version: string;
  /** Milliseconds from agent start to ready (root assembled, serving). */
  bootMs: number;
}

export interface ExecRequest {
  /** argv[0] is resolved on the guest PATH (from env, else the default PATH). */
  argv: string[];
  /** `KEY=VALUE` entries layered over the sandbox environment. */
  env: string[];
  /** Working directory; default: the sandbox's, else the user's home, else `/`. */
  cwd?: string;
  /** `name`, `uid` or `uid:gid`; resolved through the guest's /etc/passwd and /etc/group. */
  user?: string;
  tty: boolean;
  rows?: number;
  cols?: number;
  /** Kill the process (SIGKILL to its group) after this many milliseconds. */
  timeoutMs?: number;
}

export interface Started {
  pid: number;
}

export interface Resize {
  rows: number;
  cols: number;
}

export interface Signal {
  signal: number;
}

/** Why a session ended without the process running its course. */
export type ExecFailure =
  | "command-not-found"
  | "command-not-executable"
  | "bad-workdir"
  | "unknown-user"
  | "timeout"
  | "spawn-failed";

export interface Exited {
  /** Exit status when the process exited normally. */
  code: number | null;
  /** Signal number when the process was killed by a signal. */
  signal: number | null;
  failure?: { kind: ExecFailure; message: string };
}

export interface Shutdown {
  /** Time between SIGTERM and SIGKILL for the remaining processes. */
  graceMs: number;
}

export interface ProtocolErrorBody {
  message: string;
}

export interface StatsRequest {
  /** Matches the answer to the request: several clients may ask at once. */
  id: number;
  /**
   * CPU % needs two samples: when the agent has no recent one to compare with, it takes two
   * this many milliseconds apart (default 250).
   */
  windowMs?: number;
}

/** What the agent measures; null where its source cannot tell (see metrics/stats-source.ts). */
export interface GuestStats {
  id: number;
  /** 100 = one CPU fully busy over the sampling window. */
  cpuPercent: number | null;
  memoryBytes: number | null;
  memoryLimitBytes: number | null;
  diskReadBytes: number | null;
  diskWriteBytes: number | null;
  /** Where the figures came from, e.g. `cgroup1+processes` or `vm`. */
  source: string;
}

/** The agent's figures plus the network engine's byte counters (from the guest's point of view). */
export interface SandboxStats extends GuestStats {
  netRxBytes: number | null;
  netTxBytes: number | null;
}
