// The spellings of a placeholder a guest could use to smuggle it past a plain search: raw,
// percent-encoded, and inside base64 at each of the three byte alignments (standard and URL-safe
// alphabets). Text here is latin1: one char per byte.

export interface Needle {
  text: string;
  /** The secret whose placeholder this spells. */
  secret: string;
}

export function placeholderForms(secret: string, placeholder: string): Needle[] {
  const forms = new Set<string>([
    placeholder,
    percentEncoded(placeholder, true),
    percentEncoded(placeholder, false),
  ]);
  for (const core of base64Cores(placeholder)) {
    forms.add(core);
    forms.add(core.replaceAll("+", "-").replaceAll("/", "_"));
  }
  return [...forms].map((text) => ({ text, secret }));
}

/**
 * The base64 characters that depend only on the placeholder's bytes, whatever precedes and
 * follows it: each 4-char group encodes 3 bytes, so with k bytes before it, the first group mixes
 * in foreign bytes (dropped when k > 0) and so may the last one (always dropped).
 */
export function base64Cores(text: string): string[] {
  const cores: string[] = [];
  for (let before = 0; before < 3; before++) {
    const encoded = Buffer.from("\0".repeat(before) + text, "latin1").toString("base64");
    const fullGroups = Math.floor((before + text.length) / 3);
    const end = (fullGroups - 1) * 4;
    const start = before > 0 ? 4 : 0;
    if (end > start) cores.push(encoded.slice(start, end));
  }
  return cores;
}

function percentEncoded(text: string, upper: boolean): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const hex = text.charCodeAt(i).toString(16).padStart(2, "0");
    out += `%${upper ? hex.toUpperCase() : hex}`;
  }
  return out;
}

/** %XX sequences decoded, anything else kept: for finding placeholders, not for forwarding. */
export function percentDecodedLoosely(text: string): string {
  return text.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) =>
    String.fromCharCode(Number.parseInt(hex, 16)),
  );
}

export function findNeedle(text: string, needles: readonly Needle[]): Needle | undefined {
  return needles.find((needle) => text.includes(needle.text));
}
