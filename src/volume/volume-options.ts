// What `msb volume create` accepts, checked before anything is written: the name (as sandbox
// names, so it is a safe file name under MSB_HOME/volumes), the quota (--size, at least what
// mkfs.ext4 needs) and the ownership options (--opt uid=N,gid=N).
import { MIN_UPPER_DISK_BYTES } from "../backend/upper-disk.ts";
import { UsageError } from "../errors.ts";
import { isValidSandboxName } from "../sandbox/names.ts";
import { parseSize } from "../sandbox/parse-size.ts";
import type { VolumeOwner } from "../store/volume-records.ts";

/** The smallest disk volume: below it ext4's journal and metadata leave no room for data. */
export const MIN_VOLUME_BYTES = MIN_UPPER_DISK_BYTES;

/** A disk volume's image is `<name>.ext4` next to directory volumes' `<name>/`: keep them apart. */
const DISK_SUFFIX = ".ext4";

const MAX_ID = 0xfffffffe;

export function validateVolumeName(name: string): string {
  if (!isValidSandboxName(name)) {
    throw new UsageError(
      `invalid volume name '${name}': use 1 to 63 letters, digits, '_', '.' or '-', starting with a letter or digit`,
    );
  }
  if (name.endsWith(DISK_SUFFIX)) {
    throw new UsageError(`invalid volume name '${name}': names ending in ${DISK_SUFFIX} are reserved`);
  }
  return name;
}

/** `--size`: bytes of the disk, at least MIN_VOLUME_BYTES, rounded down to whole KiB (ext4 blocks). */
export function parseVolumeSize(value: string): number {
  const bytes = parseSize(value, "--size", MIN_VOLUME_BYTES);
  return bytes - (bytes % 1024);
}

/** `--opt uid=N,gid=N` (repeatable, or comma-separated): both or neither. */
export function parseVolumeOptions(values: readonly string[]): VolumeOwner | null {
  const ids: Partial<Record<"uid" | "gid", number>> = {};
  for (const item of values.flatMap((value) => value.split(","))) {
    const [key = "", id, ...rest] = item.split("=");
    if ((key !== "uid" && key !== "gid") || id === undefined || rest.length > 0) {
      throw new UsageError(
        `invalid volume option '${item}': use --opt uid=N,gid=N, e.g. --opt uid=1000,gid=1000`,
      );
    }
    if (!/^\d+$/.test(id) || Number(id) > MAX_ID) {
      throw new UsageError(`invalid ${key} '${id}' in --opt: use a number from 0 to ${MAX_ID}`);
    }
    ids[key] = Number(id);
  }
  if (ids.uid === undefined && ids.gid === undefined) return null;
  if (ids.uid === undefined || ids.gid === undefined) {
    throw new UsageError(
      `--opt needs both uid and gid, got only ${ids.uid === undefined ? "gid" : "uid"}`,
      "e.g. --opt uid=1000,gid=1000",
    );
  }
  return { uid: ids.uid, gid: ids.gid };
}
