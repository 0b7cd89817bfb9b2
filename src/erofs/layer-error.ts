// The error for a layer that cannot be applied: names the layer (its label, e.g. the digest)
// and, when there is one, the offending tar entry.
import { MsbError, type MsbErrorOptions } from "../errors.ts";

export class LayerError extends MsbError {
  constructor(layer: string, detail: string, options: Omit<MsbErrorOptions, "code"> = {}) {
    super(`${layerName(layer)}: ${detail}`, { ...options, code: "runtime" });
    this.name = "LayerError";
  }
}

/** "layer <label>", unless the label already reads "layer …". */
export function layerName(label: string): string {
  return /^layer\b/i.test(label) ? label : `layer ${label}`;
}
