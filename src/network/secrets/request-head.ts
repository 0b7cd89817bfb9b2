// One HTTP/1.1 request head (request line and header fields, latin1 text): parsed, the
// placeholders of the secrets allowed on it substituted (header values, Basic credentials,
// query string), and searched for any placeholder left, in every spelling a guest could use.
import { findNeedle, type Needle, percentDecodedLoosely } from "./placeholder-forms.ts";
import type { GuardedSecret } from "./secret-set.ts";

export type Framing =
  | { kind: "none" }
  | { kind: "length"; length: number }
  | { kind: "chunked" }
  /** CONNECT or Upgrade: after the head, bytes that are not HTTP. */
  | { kind: "opaque" };

export interface RequestHead {
  requestLine: string;
  fields: [name: string, value: string][];
}

export function parseRequestHead(text: string): RequestHead | string {
  const lines = text.split("\r\n");
  const requestLine = lines[0] ?? "";
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+ \S+ HTTP\/1\.[01]$/.test(requestLine)) return "not an HTTP/1.x request";
  const fields: [string, string][] = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0 || /[\s]/.test(line.slice(0, colon))) return "a malformed header line";
    fields.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
  }
  return { requestLine, fields };
}

export function serializeHead(head: RequestHead): string {
  return `${[head.requestLine, ...head.fields.map(([name, value]) => `${name}: ${value}`)].join("\r\n")}\r\n\r\n`;
}

export function headerValues(head: RequestHead, name: string): string[] {
  const lower = name.toLowerCase();
  return head.fields.filter(([field]) => field.toLowerCase() === lower).map(([, value]) => value);
}

export function setHeader(head: RequestHead, name: string, value: string): void {
  const lower = name.toLowerCase();
  head.fields = head.fields.filter(([field]) => field.toLowerCase() !== lower);
  head.fields.push([name, value]);
}

export function removeHeader(head: RequestHead, name: string): void {
  const lower = name.toLowerCase();
  head.fields = head.fields.filter(([field]) => field.toLowerCase() !== lower);
}

export function framingOf(head: RequestHead): Framing | string {
  const method = head.requestLine.slice(0, head.requestLine.indexOf(" "));
  if (method === "CONNECT" || headerValues(head, "upgrade").length > 0) return { kind: "opaque" };
  const encodings = headerValues(head, "transfer-encoding");
  const lengths = headerValues(head, "content-length");
  if (encodings.length > 0) {
    if (lengths.length > 0) return "both Transfer-Encoding and Content-Length";
    const last = encodings.join(",").split(",").at(-1)?.trim().toLowerCase();
    return last === "chunked" ? { kind: "chunked" } : "a Transfer-Encoding that does not end in chunked";
  }
  if (lengths.length === 0) return { kind: "none" };
  if (new Set(lengths).size > 1 || !/^\d{1,15}$/.test(lengths[0]!)) return "a bad Content-Length";
  const length = Number(lengths[0]);
  return length === 0 ? { kind: "none" } : { kind: "length", length };
}

/** The target is in absolute form (`GET https://host/…`): it, not Host, names the server. */
export function absoluteTarget(head: RequestHead): boolean {
  const target = head.requestLine.split(" ")[1] ?? "";
  return !target.startsWith("/") && target !== "*";
}

/** Substitutes `secrets` in the head in place; returns the names of those it substituted. */
export function substituteInHead(head: RequestHead, secrets: readonly GuardedSecret[]): string[] {
  const used = new Set<string>();
  const parts = head.requestLine.split(" ");
  const target = parts[1] ?? "";
  const question = target.indexOf("?");
  if (question >= 0) {
    let query = target.slice(question + 1);
    for (const secret of secrets) {
      if (!query.includes(secret.placeholder)) continue;
      query = query.replaceAll(secret.placeholder, encodeURIComponent(secret.value));
      used.add(secret.name);
    }
    parts[1] = `${target.slice(0, question + 1)}${query}`;
    head.requestLine = parts.join(" ");
  }
  head.fields = head.fields.map(([name, value]) => {
    let next = name.toLowerCase() === "authorization" ? substituteBasic(value, secrets, used) : value;
    for (const secret of secrets) {
      if (!next.includes(secret.placeholder)) continue;
      next = next.replaceAll(secret.placeholder, secret.wireValue);
      used.add(secret.name);
    }
    return [name, next];
  });
  return [...used];
}

function substituteBasic(value: string, secrets: readonly GuardedSecret[], used: Set<string>): string {
  const match = /^(basic\s+)([A-Za-z0-9+/=]+)$/i.exec(value);
  if (!match) return value;
  let credentials = Buffer.from(match[2]!, "base64").toString("latin1");
  let changed = false;
  for (const secret of secrets) {
    if (!credentials.includes(secret.placeholder)) continue;
    credentials = credentials.replaceAll(secret.placeholder, secret.wireValue);
    used.add(secret.name);
    changed = true;
  }
  return changed ? `${match[1]}${Buffer.from(credentials, "latin1").toString("base64")}` : value;
}

/** A placeholder still in the head, raw, percent-encoded, base64'd or inside Basic credentials. */
export function placeholderInHead(head: RequestHead, needles: readonly Needle[]): Needle | undefined {
  const text = serializeHead(head);
  const basic = headerValues(head, "authorization")
    .map((value) => /^basic\s+([A-Za-z0-9+/=]+)$/i.exec(value)?.[1])
    .filter((encoded): encoded is string => encoded !== undefined)
    .map((encoded) => Buffer.from(encoded, "base64").toString("latin1"))
    .join("\n");
  return (
    findNeedle(text, needles) ??
    findNeedle(percentDecodedLoosely(text), needles) ??
    findNeedle(basic, needles)
  );
}
