// Where msb keeps its state. Everything lives under MSB_HOME (default ~/.microsandbox);
// nothing else on the host is written.
import { homedir } from "node:os";
import { join } from "node:path";

export interface MsbPaths {
  home: string;
  bin: string;
  lib: string;
  db: string;
  blobs: string;
  images: string;
  sandboxes: string;
  volumes: string;
  tls: string;
  locks: string;
  tmp: string;
  /** Runtime folders of running sandboxes (sockets, boot config), keyed by a short id. */
  run: string;
  credentials: string;
}

export function msbHome(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.MSB_HOME?.trim();
  return fromEnv ? fromEnv : join(homedir(), ".microsandbox");
}

export function msbPaths(home: string = msbHome()): MsbPaths {
  return {
    home,
    bin: join(home, "bin"),
    lib: join(home, "lib"),
    db: join(home, "msb.db"),
    blobs: join(home, "blobs"),
    images: join(home, "images"),
    sandboxes: join(home, "sandboxes"),
    volumes: join(home, "volumes"),
    tls: join(home, "tls"),
    locks: join(home, "locks"),
    tmp: join(home, "tmp"),
    run: join(home, "run"),
    credentials: join(home, "registries.json"),
  };
}

/** Path of a blob in the content-addressed store: blobs/sha256/<hex>. */
export function blobPath(paths: MsbPaths, digest: string): string {
  const [algorithm, hex] = digest.split(":");
  return join(paths.blobs, algorithm ?? "sha256", hex ?? "");
}

/** Directory holding the built root of one image manifest: images/<hex of manifest digest>/. */
export function imageDir(paths: MsbPaths, manifestDigest: string): string {
  return join(paths.images, manifestDigest.replace(/^sha256:/, ""));
}

/** A sandbox's persistent folder: upper.ext4 and logs. */
export function sandboxDir(paths: MsbPaths, name: string): string {
  return join(paths.sandboxes, name);
}

/** A running sandbox's runtime folder; short, because unix socket paths are limited to 108 bytes. */
export function runtimeDir(paths: MsbPaths, sandboxId: string): string {
  return join(paths.run, sandboxId);
}
