// Builds an image's read-only root, one EROFS file, straight from its layer tar streams:
// layers are applied in order to an in-memory metadata tree while file contents stream into
// the image's data area; then the metadata, directory blocks and superblock are written.
// Nothing from the image is extracted onto the host. Never prints: warnings are returned.
import { createHash } from "node:crypto";
import { type FileHandle, open, rm } from "node:fs/promises";
import { LayerApplier } from "../erofs/apply-layer.ts";
import { BufferedWriter } from "../erofs/buffered-writer.ts";
import { DataArea } from "../erofs/data-area.ts";
import { BLOCK_SIZE } from "../erofs/format.ts";
import { LayerError } from "../erofs/layer-error.ts";
import { planImage } from "../erofs/layout.ts";
import { implicitDirMeta, newDir } from "../erofs/tree.ts";
import { writeMetadata } from "../erofs/writer.ts";
import { MsbError } from "../errors.ts";
import { readTar } from "../tar/reader.ts";

export { LayerError } from "../erofs/layer-error.ts";

/** One layer: a label for messages (e.g. its digest) and its decompressed tar bytes. */
export interface LayerInput {
  label: string;
  open(): AsyncIterable<Uint8Array>;
}

export interface RootfsBuildResult {
  /** Size of the image file. */
  bytes: number;
  /** Inodes in the image (hard links counted once). */
  inodes: number;
  /** Regular files among them. */
  files: number;
  warnings: string[];
}

const SPOOL_BUFFER = 1 << 20;

export async function buildRootfs(layers: LayerInput[], outPath: string): Promise<RootfsBuildResult> {
  const spoolPath = `${outPath}.tails`;
  const handles: FileHandle[] = [];
  let succeeded = false;
  try {
    const image = await open(outPath, "w+");
    handles.push(image);
    const spool = await open(spoolPath, "w+");
    handles.push(spool);
    const imageWriter = new BufferedWriter(image, BLOCK_SIZE);
    const spoolWriter = new BufferedWriter(spool, 0, SPOOL_BUFFER);
    const data = new DataArea(imageWriter, spoolWriter);
    const root = newDir(implicitDirMeta());
    const warnings: string[] = [];
    for (const [index, layer] of layers.entries()) {
      const applier = new LayerApplier(root, index + 1, layer.label, data);
      try {
        warnings.push(...(await applier.apply(readTar(layer.open()))));
      } catch (error) {
        if (error instanceof LayerError) throw error;
        const hint = error instanceof MsbError ? error.hint : undefined;
        const message = error instanceof Error ? error.message : String(error);
        throw new LayerError(layer.label, message, { cause: error, hint });
      }
    }
    await imageWriter.flush();
    await spoolWriter.flush();
    const layout = planImage(root, data.nextBlock);
    await writeMetadata(image, spool, layout, imageUuid(layers));
    await image.datasync();
    succeeded = true;
    return {
      bytes: layout.totalBlocks * BLOCK_SIZE,
      inodes: layout.plans.length,
      files: layout.plans.filter((plan) => plan.inode.kind === "file").length,
      warnings,
    };
  } finally {
    for (const handle of handles) await handle.close();
    await rm(spoolPath, { force: true });
    if (!succeeded) await rm(outPath, { force: true });
  }
}

/** Derived from the layer labels, so rebuilding the same image gives the same bytes. */
function imageUuid(layers: LayerInput[]): Uint8Array {
  const hash = createHash("sha256");
  for (const layer of layers) hash.update(`${layer.label}\n`);
  return new Uint8Array(hash.digest().subarray(0, 16));
}
