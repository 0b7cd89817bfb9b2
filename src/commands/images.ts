// msb images (alias of `msb image ls`): list stored images.
import { defineCommand } from "citty";
import { listImageSummaries } from "../image/catalog.ts";
import { openStore } from "../store/store.ts";
import { formatSize, formatTimestamp, renderTable, shortDigest } from "../ui/format.ts";
import { info, print, printJson } from "../ui/output.ts";
import { formatArgs, quietArgs } from "./_shared.ts";

export default defineCommand({
  meta: { name: "images", description: "List images" },
  args: { ...formatArgs, ...quietArgs },
  run({ args }) {
    const store = openStore();
    try {
      const images = listImageSummaries(store);
      if (args.format === "json") {
        printJson(
          images.map((image) => ({
            reference: image.reference,
            digest: image.digest,
            size_bytes: image.sizeBytes,
            architecture: image.architecture,
            os: image.os,
            layer_count: image.layerCount,
            created_at: image.createdAt,
          })),
        );
      } else if (args.quiet) {
        for (const image of images) print(image.reference);
      } else if (images.length === 0) {
        info("No images found.");
      } else {
        const rows = images.map((image) => [
          image.reference,
          shortDigest(image.digest),
          formatSize(image.sizeBytes),
          formatTimestamp(image.createdAt),
        ]);
        print(renderTable(["REFERENCE", "DIGEST", "SIZE", "CREATED"], rows));
      }
    } finally {
      store.close();
    }
  },
});
