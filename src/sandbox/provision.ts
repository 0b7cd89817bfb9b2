// What `run` and `create` share: validate every flag, check the backend, make sure the image is
// there (per --pull), and record the sandbox with its disk. An existing sandbox of the same name
// is reused, or replaced with --replace.

import { existsSync } from "node:fs";
import { cpus, homedir } from "node:os";
import { MsbError, NotFoundError } from "../errors.ts";
import { resolveStoredImage } from "../image/catalog.ts";
import { parseImageConfig } from "../image/image-config.ts";
import { rootfsPath } from "../image/install-image.ts";
import { type PullEvents, pullImage } from "../image/pull.ts";
import { findSandbox, type SandboxRecord } from "../store/sandbox-records.ts";
import type { Store } from "../store/store.ts";
import { ensureVolumes } from "../volume/volumes.ts";
import { ensureIsolationAvailable } from "./isolation.ts";
import { createSandbox, removeSandbox, requireSandbox } from "./lifecycle.ts";
import {
  type SandboxOptionsContext,
  type SandboxOptionsInput,
  specFromOptions,
  validateSandboxOptions,
} from "./options.ts";
import type { PullPolicy } from "./parse-flags.ts";
import { ensurePortsFree } from "./port-check.ts";

export interface ProvisionOptions {
  image: string;
  input: SandboxOptionsInput;
  replace: boolean;
  pullEvents?: PullEvents;
}

export interface Provisioned {
  record: SandboxRecord;
  /** An existing sandbox of that name was reused; its creation flags were not applied. */
  reused: boolean;
}

export function hostContext(): SandboxOptionsContext {
  return { cwd: process.cwd(), env: process.env, hostCpus: cpus().length, home: homedir() };
}

export async function provisionSandbox(store: Store, options: ProvisionOptions): Promise<Provisioned> {
  const parsed = validateSandboxOptions(options.input, hostContext());
  const existing = findSandbox(store.db, parsed.name);
  if (existing && !options.replace) return { record: await requireSandbox(store, parsed.name), reused: true };
  await ensureIsolationAvailable(store.paths, parsed.isolation);
  await ensurePortsFree(parsed.network?.ports ?? []);
  const image = await ensureImage(store, options.image, parsed.pull, options.pullEvents);
  if (existing) await removeSandbox(store, parsed.name, { force: true });
  const spec = specFromOptions(parsed, image);
  await ensureVolumes(store, spec.mounts);
  return { record: await createSandbox(store, spec), reused: false };
}

export async function ensureImage(store: Store, reference: string, policy: PullPolicy, events?: PullEvents) {
  const stored = () => {
    try {
      const record = resolveStoredImage(store, reference);
      return existsSync(rootfsPath(store, record.manifest.digest)) ? record : undefined;
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  };
  let record = policy === "always" ? undefined : stored();
  if (!record) {
    if (policy === "never") {
      throw new NotFoundError(
        `image not found: ${reference}`,
        "pull it with 'msb pull', or use --pull if-missing",
      );
    }
    await pullImage(store, reference, {}, events);
    record = stored();
    if (!record) throw new MsbError(`image ${reference} was pulled but is not in the store`);
  }
  const config = parseImageConfig(
    new TextEncoder().encode(record.manifest.configJson),
    record.manifest.configDigest,
  );
  return { reference: record.reference, manifestDigest: record.manifest.digest, config: config.runtime };
}
