// X.509 v3 certificates built in process (RFC 5280), signed with node:crypto: the interception
// CA and the leaves minted per server name. Pure builders; keys, times and serials come in.
import { createHash, type KeyObject, randomBytes, sign } from "node:crypto";
import { parseIpAddress } from "../policy/address-class.ts";
import {
  bitString,
  boolean,
  derNull,
  explicit,
  implicitPrimitive,
  integer,
  octetString,
  oid,
  readChildren,
  readElement,
  sequence,
  set,
  time,
  utf8,
} from "./der.ts";

const OID = {
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  sha256WithRsa: "1.2.840.113549.1.1.11",
  commonName: "2.5.4.3",
  organization: "2.5.4.10",
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
} as const;

/** RFC 5280's upper bound for a CommonName; longer names live only in the SAN. */
const MAX_COMMON_NAME = 64;

export interface CertificateFields {
  serial: Uint8Array;
  /** DER Name of the issuer: for a leaf, the CA certificate's subject exactly. */
  issuer: Uint8Array;
  subject: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** The certified key. */
  publicKey: KeyObject;
  extensions: Uint8Array[];
  /** The issuer's key (the subject's own for a self-signed CA). */
  signingKey: KeyObject;
}

/** A signed certificate, DER. */
export function buildCertificate(fields: CertificateFields): Uint8Array {
  const algorithm = signatureAlgorithm(fields.signingKey);
  const tbs = sequence(
    explicit(0, integer(2)),
    integer(fields.serial),
    algorithm,
    fields.issuer,
    sequence(time(fields.notBefore), time(fields.notAfter)),
    fields.subject,
    spki(fields.publicKey),
    explicit(3, sequence(...fields.extensions)),
  );
  const signature = sign("sha256", tbs, { key: fields.signingKey, dsaEncoding: "der" });
  return sequence(tbs, algorithm, bitString(new Uint8Array(signature)));
}

function signatureAlgorithm(key: KeyObject): Uint8Array {
  if (key.asymmetricKeyType === "ec") return sequence(oid(OID.ecdsaWithSha256));
  if (key.asymmetricKeyType === "rsa") return sequence(oid(OID.sha256WithRsa), derNull());
  throw new Error(`unsupported signing key type ${key.asymmetricKeyType}`);
}

function spki(publicKey: KeyObject): Uint8Array {
  return new Uint8Array(publicKey.export({ type: "spki", format: "der" }));
}

/** A distinguished name of (optional) O and CN, as UTF8Strings. */
export function distinguishedName(attributes: { organization?: string; commonName?: string }): Uint8Array {
  const rdns: Uint8Array[] = [];
  if (attributes.organization !== undefined)
    rdns.push(set(sequence(oid(OID.organization), utf8(attributes.organization))));
  if (attributes.commonName !== undefined)
    rdns.push(set(sequence(oid(OID.commonName), utf8(attributes.commonName))));
  return sequence(...rdns);
}

/** The subject for a leaf: CN = name when it fits, else empty (the SAN is then critical). */
export function leafSubject(name: string): Uint8Array {
  return distinguishedName(name.length <= MAX_COMMON_NAME ? { commonName: name } : {});
}

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical
    ? sequence(oid(id), boolean(true), octetString(value))
    : sequence(oid(id), octetString(value));
}

export function basicConstraints(isCa: boolean): Uint8Array {
  return extension(OID.basicConstraints, true, isCa ? sequence(boolean(true), integer(0)) : sequence());
}

/** keyUsage bits, numbered as in RFC 5280 §4.2.1.3 (0 = digitalSignature, 5 = keyCertSign). */
export function keyUsage(bits: number[]): Uint8Array {
  const value = bits.reduce((byte, bit) => byte | (0x80 >> bit), 0);
  const unused = 7 - Math.max(...bits);
  return extension(OID.keyUsage, true, bitString(Uint8Array.of(value), unused));
}

export const KeyUsageBit = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;

export function serverAuthUsage(): Uint8Array {
  return extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth)));
}

/** dNSName for a host name, iPAddress for an IPv4/IPv6 literal. */
export function subjectAltName(name: string): Uint8Array {
  const address = parseIpAddress(name);
  const general =
    address === null
      ? implicitPrimitive(2, new TextEncoder().encode(name))
      : implicitPrimitive(7, Uint8Array.from(address.toByteArray()));
  return extension(OID.subjectAltName, name.length > MAX_COMMON_NAME, sequence(general));
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(publicKey: KeyObject): Uint8Array {
  const der = spki(publicKey);
  // An SPKI is SEQUENCE { AlgorithmIdentifier, BIT STRING }; the key bits end the structure.
  const [, keyBits] = readChildren(readElement(der).contents);
  if (keyBits === undefined) throw new Error("malformed public key");
  return new Uint8Array(createHash("sha1").update(keyBits.contents.subarray(1)).digest());
}

export function subjectKeyIdentifier(id: Uint8Array): Uint8Array {
  return extension(OID.subjectKeyIdentifier, false, octetString(id));
}

export function authorityKeyIdentifier(id: Uint8Array): Uint8Array {
  return extension(OID.authorityKeyIdentifier, false, sequence(implicitPrimitive(0, id)));
}

/** 16 random bytes as a positive INTEGER of fixed length (RFC 5280 allows up to 20 octets). */
export function randomSerial(): Uint8Array {
  const serial = new Uint8Array(randomBytes(16));
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  return serial;
}

export function toPem(der: Uint8Array, label = "CERTIFICATE"): string {
  const base64 = Buffer.from(der).toString("base64");
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** The DER of the first PEM block labelled `label`, or null. */
export function fromPem(pem: string, label = "CERTIFICATE"): Uint8Array | null {
  const match = new RegExp(`-----BEGIN ${label}-----([^-]+)-----END ${label}-----`).exec(pem);
  return match === null ? null : new Uint8Array(Buffer.from(match[1]!.replace(/\s+/g, ""), "base64"));
}
