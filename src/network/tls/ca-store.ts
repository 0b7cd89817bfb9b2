// Where the interception CA lives: `$MSB_HOME/tls/ca.crt` and `ca.key` (0600), created on first
// use. Two processes may start the first sandboxes at once, so creation is a race with one
// winner: the key is published with link(2), which fails if the name exists, and the cert follows.
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { link, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { MsbError } from "../../errors.ts";
import { type CaPem, createCaPem, loadCertificateAuthority } from "./ca.ts";

export interface UserCaPaths {
  certPath: string;
  keyPath: string;
}

/** How long a process that lost the creation race waits for the winner's certificate. */
const WAIT_FOR_PEER_MS = 5000;
const POLL_MS = 25;

/** The user's CA when given, else msb's own, created on first use. Checked before it is returned. */
export async function loadOrCreateCa(msbHome: string, userCa?: UserCaPaths): Promise<CaPem> {
  if (userCa !== undefined) {
    const pem = { certPem: await readPem(userCa.certPath), keyPem: await readPem(userCa.keyPath) };
    loadCertificateAuthority(pem, userCa.certPath);
    return pem;
  }
  const dir = join(msbHome, "tls");
  const certPath = join(dir, "ca.crt");
  const keyPath = join(dir, "ca.key");
  const existing = await readPair(certPath, keyPath);
  const pem = existing ?? (await createPair(dir, certPath, keyPath));
  loadCertificateAuthority(pem, certPath);
  return pem;
}

async function readPem(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    throw new MsbError(`cannot read ${path}`, {
      cause: error,
      code: "notFound",
      hint: "give the path of a PEM file with --tls-intercept-ca-cert / --tls-intercept-ca-key",
    });
  }
}

async function readPair(certPath: string, keyPath: string): Promise<CaPem | null> {
  const [certPem, keyPem] = await Promise.all([readIfExists(certPath), readIfExists(keyPath)]);
  return certPem === null || keyPem === null ? null : { certPem, keyPem };
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

async function createPair(dir: string, certPath: string, keyPath: string): Promise<CaPem> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const suffix = `.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  const tmpKey = keyPath + suffix;
  const tmpCert = certPath + suffix;
  const fresh = createCaPem();
  try {
    await writeFile(tmpKey, fresh.keyPem, {
      mode: 0o600,
      flag: constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY,
    });
    await writeFile(tmpCert, fresh.certPem, { mode: 0o644 });
    if (await publish(tmpKey, keyPath)) {
      await rename(tmpCert, certPath);
      return fresh;
    }
    return await peerPair(certPath, keyPath, tmpCert);
  } finally {
    await rm(tmpKey, { force: true });
    await rm(tmpCert, { force: true });
  }
}

/** link(2) the temporary file to its final name; false when another process got there first. */
async function publish(tmpPath: string, finalPath: string): Promise<boolean> {
  try {
    await link(tmpPath, finalPath);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
}

/**
 * Another process owns the key: wait for its certificate. If it never comes (that process died
 * between the two steps), certify the existing key ourselves, again racing with link(2).
 */
async function peerPair(certPath: string, keyPath: string, tmpCert: string): Promise<CaPem> {
  for (const deadline = Date.now() + WAIT_FOR_PEER_MS; Date.now() < deadline; ) {
    const pair = await readPair(certPath, keyPath);
    if (pair !== null) return pair;
    await Bun.sleep(POLL_MS);
  }
  const keyPem = await readFile(keyPath, "utf8");
  await writeFile(tmpCert, createCaPem(new Date(), keyPem).certPem, { mode: 0o644 });
  await publish(tmpCert, certPath);
  return { certPem: await readFile(certPath, "utf8"), keyPem };
}
