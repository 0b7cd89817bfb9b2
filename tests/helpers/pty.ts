// Runs a process on a real pseudo-terminal (Bun.spawn with `terminal`), the way a user's terminal
// emulator would, so tests can type into it, resize it and read its termios flags.
import type { Terminal } from "bun";

/** c_lflag bits (Linux). */
export const ISIG = 0o1;
export const ICANON = 0o2;
export const ECHO = 0o10;

export interface PtyProcess {
  readonly pid: number;
  /** Exit code, or 128 + signal. */
  readonly exited: Promise<number>;
  /** Everything the process wrote to the terminal so far. */
  output(): string;
  write(data: string | Uint8Array): void;
  resize(cols: number, rows: number): void;
  /** The terminal's current c_lflag (raw mode clears ICANON, ECHO and ISIG). */
  localFlags(): number;
  /** Resolves with the output once it matches `pattern`. */
  waitForOutput(pattern: RegExp | string, timeoutMs?: number): Promise<string>;
  kill(): void;
}

export interface PtyOptions {
  cols?: number;
  rows?: number;
  env?: Record<string, string | undefined>;
  cwd?: string;
}

export function spawnInPty(argv: string[], options: PtyOptions = {}): PtyProcess {
  let text = "";
  const decoder = new TextDecoder();
  const child = Bun.spawn(argv, {
    env: options.env ?? process.env,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    terminal: {
      cols: options.cols ?? 80,
      rows: options.rows ?? 24,
      data(_terminal, data) {
        text += decoder.decode(data, { stream: true });
      },
    },
  });
  const terminal = child.terminal as Terminal;
  const exited = child.exited.then((code) => {
    terminal.close();
    return code;
  });
  return {
    pid: child.pid,
    exited,
    output: () => text,
    write: (data) => void terminal.write(data),
    resize: (cols, rows) => terminal.resize(cols, rows),
    localFlags: () => terminal.localFlags,
    async waitForOutput(pattern, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      const matches = () => (typeof pattern === "string" ? text.includes(pattern) : pattern.test(text));
      while (!matches()) {
        if (Date.now() > deadline)
          throw new Error(`terminal output never matched ${pattern}; got: ${JSON.stringify(text)}`);
        await Bun.sleep(10);
      }
      return text;
    },
    kill: () => child.kill("SIGKILL"),
  };
}
