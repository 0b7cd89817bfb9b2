// The guest → upstream filter of an intercepted TLS connection: reads the decrypted bytes as a
// series of HTTP/1.1 requests (keep-alive, pipelining), substitutes the placeholders of the
// secrets allowed for each request's head, and their bodies for `:body` secrets (buffered, then
// Content-Length rewritten or re-chunked), and cuts the stream at any other placeholder.
// Bytes that are not HTTP are only scanned. latin1 text: one char per byte.
import { ChunkedDecoder } from "./chunked-decoder.ts";
import { findNeedle, type Needle } from "./placeholder-forms.ts";
import {
  type Framing,
  framingOf,
  headerValues,
  parseRequestHead,
  placeholderInHead,
  type RequestHead,
  removeHeader,
  serializeHead,
  setHeader,
  substituteInHead,
} from "./request-head.ts";
import type { GuardedSecret } from "./secret-set.ts";
import { SplitScanner } from "./split-scanner.ts";

export const MAX_HEAD_BYTES = 64 * 1024;
export const MAX_BUFFERED_BODY_BYTES = 16 * 1024 * 1024;

export interface RequestFilterOptions {
  /** Every placeholder spelling of every secret of the sandbox. */
  needles: readonly Needle[];
  /** The secrets whose placeholders may be replaced in this request. */
  allowedFor(head: RequestHead): GuardedSecret[];
  /** A placeholder where it may not go; the stream is cut after this. */
  violation(secret: string, where: string): void;
  /** Not HTTP this filter can follow; the stream is cut after this. */
  malformed(why: string): void;
}

type Phase =
  | { kind: "head" }
  | { kind: "opaque"; scanner: SplitScanner }
  | { kind: "length"; remaining: number; scanner: SplitScanner }
  | { kind: "chunked"; decoder: ChunkedDecoder; scanner: SplitScanner }
  | {
      kind: "buffer";
      head: RequestHead;
      secrets: GuardedSecret[];
      framing: Framing;
      body: string;
      decoder: ChunkedDecoder;
    };

export class RequestFilter {
  private phase: Phase = { kind: "head" };
  private pending = "";

  constructor(private readonly options: RequestFilterOptions) {}

  /** The text to forward now, or null to cut the stream. */
  push(input: string): string | null {
    let text = this.pending + input;
    this.pending = "";
    let out = "";
    while (text.length > 0) {
      const step = this.step(text);
      if (step === null) return null;
      out += step.out;
      text = text.slice(step.used);
      if (step.used === 0) {
        this.pending = text;
        break;
      }
    }
    return out;
  }

  /** At the guest's end of stream: what was held back, if it carries no placeholder. */
  end(): string | null {
    const held = this.phase.kind === "buffer" ? serializeHead(this.phase.head) + this.phase.body : "";
    const rest = held + this.pending;
    const found = findNeedle(rest, this.options.needles);
    if (found) {
      this.options.violation(found.secret, "an unfinished request");
      return null;
    }
    return rest;
  }

  /** Handles the start of `text`; used = 0 means it needs more bytes. */
  private step(text: string): { used: number; out: string } | null {
    const phase = this.phase;
    switch (phase.kind) {
      case "head":
        return this.head(text);
      case "opaque":
        return this.scanned(phase.scanner, text, "data after an upgrade")
          ? { used: text.length, out: text }
          : null;
      case "length": {
        const piece = text.slice(0, phase.remaining);
        if (!this.scanned(phase.scanner, piece, "a request body")) return null;
        phase.remaining -= piece.length;
        if (phase.remaining === 0) this.phase = { kind: "head" };
        return { used: piece.length, out: piece };
      }
      case "chunked": {
        const { used, data } = phase.decoder.feed(text);
        if (phase.decoder.error !== null) return this.malformed(phase.decoder.error);
        if (!this.scanned(phase.scanner, data, "a request body")) return null;
        if (phase.decoder.done) this.phase = { kind: "head" };
        return { used, out: text.slice(0, used) };
      }
      case "buffer":
        return this.buffer(phase, text);
    }
  }

  private head(text: string): { used: number; out: string } | null {
    // Stray CRLFs between requests are allowed (RFC 9112 §2.2).
    const start = text.match(/^(\r\n)*/)![0].length;
    if (start > 0) return { used: start, out: text.slice(0, start) };
    if (!/^[A-Z]/.test(text)) {
      this.phase = { kind: "opaque", scanner: new SplitScanner(this.options.needles) };
      return this.step(text);
    }
    const end = text.indexOf("\r\n\r\n");
    if (end < 0)
      return text.length > MAX_HEAD_BYTES
        ? this.malformed("a request head over 64 KiB")
        : { used: 0, out: "" };
    const head = parseRequestHead(text.slice(0, end));
    if (typeof head === "string") return this.malformed(head);
    const framing = framingOf(head);
    if (typeof framing === "string") return this.malformed(framing);
    const allowed = this.options.allowedFor(head);
    const substituted = substituteInHead(head, allowed);
    const left = placeholderInHead(head, this.options.needles);
    if (left) return this.violation(left.secret, "a request head");
    // An echoed value is only recognised in an uncompressed response.
    if (substituted.length > 0) setHeader(head, "Accept-Encoding", "identity");
    const used = end + 4;
    const bodySecrets = allowed.filter((secret) => secret.body);
    if (bodySecrets.length > 0 && (framing.kind === "length" || framing.kind === "chunked")) {
      const encoding = headerValues(head, "content-encoding").join(",").trim().toLowerCase();
      if (encoding !== "" && encoding !== "identity") {
        return this.violation(bodySecrets[0]!.name, "a compressed request body, which cannot be searched");
      }
      if (framing.kind === "length" && framing.length > MAX_BUFFERED_BODY_BYTES) {
        return this.violation(bodySecrets[0]!.name, "a request body over 16 MiB, too large to search");
      }
      // The head waits for the body, so a client waiting for 100 Continue would wait for nothing.
      removeHeader(head, "expect");
      this.phase = {
        kind: "buffer",
        head,
        secrets: bodySecrets,
        framing,
        body: "",
        decoder: new ChunkedDecoder(),
      };
      return { used, out: "" };
    }
    this.phase = this.streamingPhase(framing);
    return { used, out: serializeHead(head) };
  }

  private streamingPhase(framing: Framing): Phase {
    const scanner = new SplitScanner(this.options.needles);
    switch (framing.kind) {
      case "none":
        return { kind: "head" };
      case "opaque":
        return { kind: "opaque", scanner };
      case "length":
        return { kind: "length", remaining: framing.length, scanner };
      case "chunked":
        return { kind: "chunked", decoder: new ChunkedDecoder(), scanner };
    }
  }

  private buffer(
    phase: Extract<Phase, { kind: "buffer" }>,
    text: string,
  ): { used: number; out: string } | null {
    let used: number;
    if (phase.framing.kind === "length") {
      used = Math.min(text.length, phase.framing.length - phase.body.length);
      phase.body += text.slice(0, used);
    } else {
      const fed = phase.decoder.feed(text);
      if (phase.decoder.error !== null) return this.malformed(phase.decoder.error);
      used = fed.used;
      phase.body += fed.data;
    }
    if (phase.body.length > MAX_BUFFERED_BODY_BYTES) {
      return this.violation(phase.secrets[0]!.name, "a request body over 16 MiB, too large to search");
    }
    const complete =
      phase.framing.kind === "length" ? phase.body.length === phase.framing.length : phase.decoder.done;
    if (!complete) return { used, out: "" };
    let body = phase.body;
    for (const secret of phase.secrets) body = body.replaceAll(secret.placeholder, secret.wireValue);
    const trailers = phase.decoder.trailers;
    const left = findNeedle(body, this.options.needles) ?? findNeedle(trailers, this.options.needles);
    if (left) return this.violation(left.secret, "a request body");
    this.phase = { kind: "head" };
    if (phase.framing.kind === "length") {
      setHeader(phase.head, "Content-Length", String(body.length));
      return { used, out: serializeHead(phase.head) + body };
    }
    const chunk = body.length > 0 ? `${body.length.toString(16)}\r\n${body}\r\n` : "";
    return { used, out: `${serializeHead(phase.head)}${chunk}0\r\n${trailers}\r\n` };
  }

  private scanned(scanner: SplitScanner, piece: string, where: string): boolean {
    const found = scanner.feed(piece);
    if (found) this.options.violation(found.secret, where);
    return found === undefined;
  }

  private violation(secret: string, where: string): null {
    this.options.violation(secret, where);
    return null;
  }

  private malformed(why: string): null {
    this.options.malformed(why);
    return null;
  }
}
