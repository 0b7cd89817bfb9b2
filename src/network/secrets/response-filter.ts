// The upstream → guest filter of an intercepted TLS connection: masks echoed secret values
// (split-aware, same length, so framing stays right) and follows the HTTP/1.1 response framing
// only to know where each message ends: there it releases the tail held back as a possible start
// of a value, so a body that happens to end like a value is not stalled until the next read.
// Framing it cannot follow costs only that early release, never bytes. latin1 text.
import { ChunkedDecoder } from "./chunked-decoder.ts";
import { MAX_HEAD_BYTES } from "./request-filter.ts";
import { type Replacement, SplitReplacer } from "./split-replacer.ts";

type Phase =
  | { kind: "head"; text: string }
  | { kind: "length"; remaining: number }
  | { kind: "chunked"; decoder: ChunkedDecoder }
  /** Until the connection closes (no framing, or a protocol after 101). */
  | { kind: "close" };

export class ResponseFilter {
  private readonly replacer: SplitReplacer;
  private phase: Phase = { kind: "head", text: "" };

  constructor(replacements: readonly Replacement[]) {
    this.replacer = new SplitReplacer(replacements);
  }

  push(input: string): string {
    let out = "";
    let text = input;
    while (text.length > 0) {
      const { used, messageEnds } = this.follow(text);
      out += this.replacer.push(text.slice(0, used));
      if (messageEnds) out += this.replacer.end();
      text = text.slice(used);
    }
    return out;
  }

  end(): string {
    return this.replacer.end();
  }

  /** How much of `text` belongs to the current phase, and whether a message ends there. */
  private follow(text: string): { used: number; messageEnds: boolean } {
    const phase = this.phase;
    switch (phase.kind) {
      case "close":
        return { used: text.length, messageEnds: false };
      case "length": {
        const used = Math.min(phase.remaining, text.length);
        phase.remaining -= used;
        if (phase.remaining > 0) return { used, messageEnds: false };
        this.phase = { kind: "head", text: "" };
        return { used, messageEnds: true };
      }
      case "chunked": {
        const { used } = phase.decoder.feed(text);
        if (phase.decoder.error !== null) this.phase = { kind: "close" };
        else if (phase.decoder.done) this.phase = { kind: "head", text: "" };
        return { used: phase.decoder.error !== null ? text.length : used, messageEnds: phase.decoder.done };
      }
      case "head": {
        const seen = phase.text.length;
        const end = (phase.text + text).indexOf("\r\n\r\n");
        if (end < 0) {
          phase.text += text;
          if (phase.text.length > MAX_HEAD_BYTES) this.phase = { kind: "close" };
          return { used: text.length, messageEnds: false };
        }
        const used = end + 4 - seen;
        this.phase = bodyPhase(phase.text + text.slice(0, used));
        return { used, messageEnds: this.phase.kind === "head" };
      }
    }
  }
}

/** RFC 9112 §6.3, without the request method (a HEAD response only delays a release). */
function bodyPhase(head: string): Phase {
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? Number.NaN);
  if (Number.isNaN(status) || status === 101) return { kind: "close" };
  if (status < 200 || status === 204 || status === 304) return { kind: "head", text: "" };
  if (/\r\ntransfer-encoding:[^\r]*chunked/i.test(head))
    return { kind: "chunked", decoder: new ChunkedDecoder() };
  const length = /\r\ncontent-length:\s*(\d+)\s*\r\n/i.exec(head)?.[1];
  if (length === undefined) return { kind: "close" };
  return Number(length) === 0 ? { kind: "head", text: "" } : { kind: "length", remaining: Number(length) };
}
