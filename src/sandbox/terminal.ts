// The local terminal during an attached TTY session: raw mode (every key goes to the guest's PTY,
// including ^C and ^Z) and its size. Raw mode is undone on every way out, including a
// process.exit() elsewhere while the session runs, so the user's shell is never left raw.

export interface TerminalSize {
  rows: number;
  cols: number;
}

/** Size of the terminal behind `output`, or null when it is not a terminal. */
export function terminalSize(output: NodeJS.WriteStream): TerminalSize | null {
  if (!output.isTTY || !output.rows || !output.columns) return null;
  return { rows: output.rows, cols: output.columns };
}

/** Puts `input` in raw mode when it is a terminal; returns an idempotent restore. */
export function enterRawMode(input: NodeJS.ReadStream): () => void {
  if (!input.isTTY || input.isRaw) return () => {};
  input.setRawMode(true);
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    process.off("exit", restore);
    input.setRawMode(false);
  };
  process.on("exit", restore);
  return restore;
}
