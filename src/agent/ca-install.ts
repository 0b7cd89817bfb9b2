// Makes the guest trust the TLS interception CA: adds it to each distro bundle present in the
// root (as a marked block, replaced on every boot so a changed CA does not pile up), writes it
// as its own file, and names the files in the variables runtimes with their own stores read.
// Runs after the pivot, so the writes land in the sandbox's upper layer.
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/** Debian/Ubuntu/Alpine, RHEL family, and the OpenSSL default some distros link. */
export const CA_BUNDLES = [
  "/etc/ssl/certs/ca-certificates.crt",
  "/etc/pki/tls/certs/ca-bundle.crt",
  "/etc/ssl/cert.pem",
];
/** Where update-ca-certificates looks for local CAs, so a rebuilt bundle keeps it. */
export const GUEST_CA_FILE = "/usr/local/share/ca-certificates/msb-tls-intercept.crt";

const BEGIN = "# BEGIN msb TLS interception CA";
const END = "# END msb TLS interception CA";

/** `bundle` with the msb block (if any) replaced by one holding `caPem`. */
export function withCaBlock(bundle: string, caPem: string): string {
  const start = bundle.indexOf(BEGIN);
  const stop = bundle.indexOf(END, start);
  const rest =
    start >= 0 && stop >= 0 ? bundle.slice(0, start) + bundle.slice(stop + END.length + 1) : bundle;
  const separator = rest === "" || rest.endsWith("\n") ? "" : "\n";
  return `${rest}${separator}${BEGIN}\n${caPem.trim()}\n${END}\n`;
}

/** The variables that point runtimes at the CA; SSL_CERT_FILE and friends need a full bundle. */
export function caEnvironment(bundle: string | null): string[] {
  const full = bundle ?? GUEST_CA_FILE;
  return [
    `SSL_CERT_FILE=${full}`,
    `REQUESTS_CA_BUNDLE=${full}`,
    `CURL_CA_BUNDLE=${full}`,
    `NODE_EXTRA_CA_CERTS=${GUEST_CA_FILE}`,
  ];
}

/** Installs the CA in the current root; returns the exec environment entries that name it. */
export function installCa(caPem: string): string[] {
  writeUnlessReadOnly(GUEST_CA_FILE, `${caPem.trim()}\n`);
  const done = new Set<string>();
  let firstBundle: string | null = null;
  for (const bundle of CA_BUNDLES) {
    if (!existsSync(bundle)) continue;
    const real = realpathSync(bundle);
    if (!done.has(real) && writeUnlessReadOnly(real, withCaBlock(readFileSync(real, "latin1"), caPem))) {
      done.add(real);
    }
    if (done.has(real)) firstBundle ??= bundle;
  }
  return caEnvironment(firstBundle);
}

/** False when a read-only volume the user mounted holds the path: their files win. */
function writeUnlessReadOnly(path: string, text: string): boolean {
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text, { encoding: "latin1", mode: 0o644 });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EROFS") return false;
    throw error;
  }
}
