// Leaf certificates for intercepted connections, one per server name, signed by the interception
// CA. All leaves share one P-256 key (only a signature is needed per name, as mitmproxy does);
// the TLS contexts built from them are cached with an LRU bound and re-minted before they expire.
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import tls from "node:tls";
import type { CertificateAuthority } from "./ca.ts";
import {
  authorityKeyIdentifier,
  basicConstraints,
  buildCertificate,
  KeyUsageBit,
  keyUsage,
  leafSubject,
  randomSerial,
  serverAuthUsage,
  subjectAltName,
  toPem,
} from "./x509.ts";

const HOUR_MS = 3_600_000;
/** Backdated a day and valid three more, so a guest clock that is off by a day still accepts it. */
const BACKDATE_MS = 24 * HOUR_MS;
const VALIDITY_MS = 3 * 24 * HOUR_MS;
/** A cached leaf is replaced once it is this old, long before its notAfter. */
const REFRESH_AFTER_MS = 24 * HOUR_MS;

/** A leaf certificate (DER) for `name` certifying `leafKey`, valid from a day before `now`. */
export function mintLeaf(ca: CertificateAuthority, leafKey: KeyObject, name: string, now: Date): Uint8Array {
  return buildCertificate({
    serial: randomSerial(),
    issuer: ca.subject,
    subject: leafSubject(name),
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + VALIDITY_MS),
    publicKey: leafKey,
    extensions: [
      basicConstraints(false),
      keyUsage([KeyUsageBit.digitalSignature]),
      serverAuthUsage(),
      subjectAltName(name),
      ...(ca.keyId === undefined ? [] : [authorityKeyIdentifier(ca.keyId)]),
    ],
    signingKey: ca.key,
  });
}

export interface LeafContextsOptions {
  /** Names cached at most; the least recently used is dropped. Default 1024. */
  maxEntries?: number;
  /** Wall clock, for tests. */
  now?: () => Date;
}

interface CachedContext {
  context: tls.SecureContext;
  mintedAt: number;
}

/** Server-side TLS contexts per name: leaf + CA chain + the shared leaf key, ALPN left to the socket. */
export class LeafContexts {
  private readonly leafPublicKey: KeyObject;
  private readonly keyPem: string;
  private readonly cache = new Map<string, CachedContext>();
  private readonly maxEntries: number;
  private readonly now: () => Date;

  constructor(
    private readonly ca: CertificateAuthority,
    options: LeafContextsOptions = {},
  ) {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    this.leafPublicKey = publicKey;
    this.keyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    this.maxEntries = options.maxEntries ?? 1024;
    this.now = options.now ?? (() => new Date());
  }

  get size(): number {
    return this.cache.size;
  }

  contextFor(name: string): tls.SecureContext {
    const now = this.now();
    const cached = this.cache.get(name);
    this.cache.delete(name);
    if (cached !== undefined && now.getTime() - cached.mintedAt < REFRESH_AFTER_MS) {
      this.cache.set(name, cached);
      return cached.context;
    }
    const leaf = toPem(mintLeaf(this.ca, this.leafPublicKey, name, now));
    const context = tls.createSecureContext({ cert: leaf + this.ca.certPem, key: this.keyPem });
    this.cache.set(name, { context, mintedAt: now.getTime() });
    if (this.cache.size > this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
    return context;
  }
}
