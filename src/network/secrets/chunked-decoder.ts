// Incremental decoder of an HTTP/1.1 chunked body (RFC 9112 §7.1): tells where the message
// ends and what its data is, whatever the pieces it arrives in. latin1 text.

const MAX_LINE = 4096;

export class ChunkedDecoder {
  private state: "size" | "data" | "data-end" | "trailer" | "done" = "size";
  private line = "";
  private remaining = 0;
  /** Trailer section as received (each line with its CRLF), without the final empty line. */
  trailers = "";
  error: string | null = null;

  get done(): boolean {
    return this.state === "done";
  }

  /** Consumes up to the end of the message; `used` < text.length means the rest is not this body's. */
  feed(text: string): { used: number; data: string } {
    let at = 0;
    let data = "";
    while (at < text.length && this.state !== "done" && this.error === null) {
      if (this.state === "data") {
        const take = Math.min(this.remaining, text.length - at);
        data += text.slice(at, at + take);
        at += take;
        this.remaining -= take;
        if (this.remaining === 0) this.state = "data-end";
        continue;
      }
      const newline = text.indexOf("\n", at);
      const end = newline < 0 ? text.length : newline + 1;
      this.line += text.slice(at, end);
      at = end;
      if (this.line.length > MAX_LINE) this.error = "a chunk line is too long";
      else if (newline >= 0) this.completeLine();
    }
    return { used: at, data };
  }

  private completeLine(): void {
    const line = this.line.replace(/\r?\n$/, "");
    const raw = this.line;
    this.line = "";
    if (this.state === "data-end") {
      if (line !== "") this.error = "chunk data is longer than its size";
      else this.state = "size";
    } else if (this.state === "size") {
      const size = line.split(";")[0]!.trim();
      if (!/^[0-9a-fA-F]{1,12}$/.test(size)) {
        this.error = `bad chunk size ${JSON.stringify(size.slice(0, 20))}`;
        return;
      }
      this.remaining = Number.parseInt(size, 16);
      this.state = this.remaining === 0 ? "trailer" : "data";
    } else if (this.state === "trailer") {
      if (line === "") this.state = "done";
      else this.trailers += raw;
    }
  }
}
