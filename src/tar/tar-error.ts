// The error the tar reader throws for archives it cannot read: bad checksums, truncation,
// malformed PAX records, unsupported entry types. The message carries the byte offset.
import { MsbError } from "../errors.ts";

export class TarError extends MsbError {
  constructor(message: string) {
    super(message, { code: "runtime" });
    this.name = "TarError";
  }
}
