// Replaces needles in a byte stream that arrives in pieces, holding back the longest tail that
// could begin a needle, so a needle split across pieces is replaced whole and no part of it is
// forwarded early. Used on upstream → guest bytes to take echoed secret values out; latin1 text.

export interface Replacement {
  from: string;
  to: string;
}

export class SplitReplacer {
  private held = "";

  constructor(private readonly replacements: readonly Replacement[]) {}

  push(piece: string): string {
    if (this.replacements.length === 0) return piece;
    const text = this.replaceAll(this.held + piece);
    const hold = this.partialNeedleAtEnd(text);
    this.held = text.slice(text.length - hold);
    return text.slice(0, text.length - hold);
  }

  end(): string {
    const rest = this.held;
    this.held = "";
    return rest;
  }

  private replaceAll(text: string): string {
    let out = text;
    for (const { from, to } of this.replacements) out = out.replaceAll(from, to);
    return out;
  }

  /** Length of the longest suffix of `text` that is a proper prefix of a needle. */
  private partialNeedleAtEnd(text: string): number {
    let longest = 0;
    for (const { from } of this.replacements) {
      for (let length = Math.min(from.length - 1, text.length); length > longest; length--) {
        if (from.startsWith(text.slice(text.length - length))) {
          longest = length;
          break;
        }
      }
    }
    return longest;
  }
}
