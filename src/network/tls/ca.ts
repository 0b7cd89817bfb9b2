// The interception CA: a new self-signed ECDSA P-256 CA, or a PEM cert + key pair (msb's own or
// the user's) checked and parsed into what leaf minting needs.
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  X509Certificate,
} from "node:crypto";
import { MsbError } from "../../errors.ts";
import { oid, readChildren, readElement } from "./der.ts";
import {
  basicConstraints,
  buildCertificate,
  distinguishedName,
  fromPem,
  KeyUsageBit,
  keyIdentifier,
  keyUsage,
  randomSerial,
  subjectKeyIdentifier,
  toPem,
} from "./x509.ts";

export interface CaPem {
  certPem: string;
  keyPem: string;
}

export interface CertificateAuthority {
  certPem: string;
  key: KeyObject;
  /** The CA certificate's subject, DER, copied into each leaf's issuer. */
  subject: Uint8Array;
  /** The CA's subjectKeyIdentifier, for the leaves' authorityKeyIdentifier; absent if it has none. */
  keyId: Uint8Array | undefined;
}

const CA_VALIDITY_YEARS = 10;
const DAY_MS = 86_400_000;

/**
 * A self-signed CA (CA:TRUE pathlen 0, keyCertSign) valid ten years from yesterday, for a new P-256
 * key or for `keyPem` when given.
 */
export function createCaPem(now = new Date(), keyPem?: string): CaPem {
  const privateKey =
    keyPem === undefined
      ? generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey
      : createPrivateKey(keyPem);
  const publicKey = createPublicKey(privateKey);
  const name = distinguishedName({
    organization: "msb",
    commonName: `msb TLS interception CA ${randomBytes(4).toString("hex")}`,
  });
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CA_VALIDITY_YEARS);
  const der = buildCertificate({
    serial: randomSerial(),
    issuer: name,
    subject: name,
    notBefore: new Date(now.getTime() - DAY_MS),
    notAfter,
    publicKey,
    extensions: [
      basicConstraints(true),
      keyUsage([KeyUsageBit.digitalSignature, KeyUsageBit.keyCertSign, KeyUsageBit.cRLSign]),
      subjectKeyIdentifier(keyIdentifier(publicKey)),
    ],
    signingKey: privateKey,
  });
  return { certPem: toPem(der), keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString() };
}

/** Checks that `pem` is a CA certificate with its private key; `source` names it in errors. */
export function loadCertificateAuthority(pem: CaPem, source: string): CertificateAuthority {
  const hint = "give a PEM CA certificate (basicConstraints CA:TRUE) and its PEM private key";
  let certificate: X509Certificate;
  let key: KeyObject;
  try {
    certificate = new X509Certificate(pem.certPem);
    key = createPrivateKey(pem.keyPem);
  } catch (error) {
    throw new MsbError(`cannot read the TLS interception CA (${source})`, { cause: error, hint });
  }
  if (!certificate.ca)
    throw new MsbError(`the TLS interception CA (${source}) is not a CA certificate`, {
      code: "usage",
      hint,
    });
  if (!certificate.checkPrivateKey(key))
    throw new MsbError(`the TLS interception CA key does not match its certificate (${source})`, {
      code: "usage",
      hint,
    });
  if (key.asymmetricKeyType !== "ec" && key.asymmetricKeyType !== "rsa")
    throw new MsbError(`the TLS interception CA key (${source}) is ${key.asymmetricKeyType}`, {
      code: "usage",
      hint: "use an ECDSA or RSA CA key",
    });
  const der = fromPem(pem.certPem);
  if (der === null)
    throw new MsbError(`no PEM certificate in the TLS interception CA (${source})`, { code: "usage", hint });
  return { certPem: pem.certPem, key, ...subjectAndKeyId(der) };
}

/** The subject Name and the subjectKeyIdentifier value from a certificate's TBS. */
function subjectAndKeyId(der: Uint8Array): { subject: Uint8Array; keyId: Uint8Array | undefined } {
  const [tbs] = readChildren(readElement(der).contents);
  if (tbs === undefined) throw new Error("empty certificate");
  const fields = readChildren(tbs.contents);
  const offset = fields[0]?.tag === 0xa0 ? 1 : 0;
  const subject = fields[offset + 4];
  if (subject === undefined) throw new Error("certificate without subject");
  const extensions = fields.find((field) => field.tag === 0xa3);
  let keyId: Uint8Array | undefined;
  const skiOid = oid("2.5.29.14");
  for (const ext of extensions === undefined ? [] : readChildren(readElement(extensions.contents).contents)) {
    const parts = readChildren(ext.contents);
    if (parts[0] === undefined || !sameBytes(parts[0].raw, skiOid)) continue;
    const value = parts[parts.length - 1]!;
    keyId = readElement(value.contents).contents.slice();
  }
  return { subject: subject.raw.slice(), keyId };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index]);
}
