// Finds needles in a byte stream that arrives in pieces: keeps the tail of what it has seen, so
// a needle split across two pieces is still found. For streams that are forwarded as they come
// and only need checking (a hit cuts the stream); latin1 text.
import { findNeedle, type Needle } from "./placeholder-forms.ts";

export class SplitScanner {
  private tail = "";
  private readonly keep: number;

  constructor(private readonly needles: readonly Needle[]) {
    this.keep = Math.max(0, ...needles.map((needle) => needle.text.length - 1));
  }

  /** The first needle found in the stream so far, counting the piece just added. */
  feed(piece: string): Needle | undefined {
    if (this.needles.length === 0) return undefined;
    const window = this.tail + piece;
    const found = findNeedle(window, this.needles);
    this.tail = window.slice(Math.max(0, window.length - this.keep));
    return found;
  }
}
