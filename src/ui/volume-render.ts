// Text and JSON for `volume ls` and `volume inspect`. Pure: summaries in, strings and plain
// objects out (snake_case keys, as the other commands' JSON).
import type { VolumeSummary } from "../volume/volumes.ts";
import { formatSize, formatTimestamp, renderTable } from "./format.ts";
import { formatExactSize } from "./sandbox-render.ts";

export interface VolumeJson {
  name: string;
  kind: "dir" | "disk";
  /** The quota of a disk volume; null for a directory volume. */
  size_bytes: number | null;
  used_bytes: number;
  uid: number | null;
  gid: number | null;
  path: string;
  used_by: string[];
  created_at: string;
}

export function volumeJson(volume: VolumeSummary): VolumeJson {
  return {
    name: volume.name,
    kind: volume.kind,
    size_bytes: volume.sizeBytes,
    used_bytes: volume.usedBytes,
    uid: volume.owner?.uid ?? null,
    gid: volume.owner?.gid ?? null,
    path: volume.path,
    used_by: volume.usedBy,
    created_at: volume.createdAt,
  };
}

export function renderVolumeTable(volumes: readonly VolumeSummary[]): string {
  return renderTable(
    ["NAME", "KIND", "SIZE", "USED", "CREATED"],
    volumes.map((volume) => [
      volume.name,
      volume.kind,
      volume.sizeBytes === null ? "-" : formatExactSize(volume.sizeBytes),
      formatSize(volume.usedBytes),
      formatTimestamp(volume.createdAt),
    ]),
  );
}
